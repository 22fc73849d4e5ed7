"""The benchmark's derived figures: CPU per job by process and its totals, and fractions of the baselines."""

from __future__ import annotations

BENCH_CLIENT = "bench client"
# The infrastructure the services run on; every other watched process but the bench client is a service
# replica ("reporting#0").
INFRASTRUCTURE = ("mongod", "rabbitmq")


def cpu_per_job(cpu_seconds_by_process: dict[str, float], jobs: int) -> dict[str, object]:
    """CPU-seconds per job by process, the services' total, the total of every process but the bench
    client (what the system costs), and the bench client apart with its share of all the CPU watched."""
    per_job = {name: seconds / max(1, jobs) for name, seconds in sorted(cpu_seconds_by_process.items())}
    services = sum(s for name, s in per_job.items() if name != BENCH_CLIENT and name not in INFRASTRUCTURE)
    client = per_job.get(BENCH_CLIENT, 0.0)
    everything = sum(per_job.values())
    return {
        "cpu_seconds_per_job": services,
        "cpu_seconds_per_job_all_but_bench_client": everything - client,
        "cpu_seconds_per_job_bench_client": client,
        "bench_client_share_of_cpu": client / everything if everything else 0.0,
        "cpu_seconds_per_job_by_process": per_job,
    }


def fraction(measured: float, limit: float) -> float:
    """`measured` as a fraction of `limit` (NaN when there is no limit to compare with)."""
    return measured / limit if limit > 0 else float("nan")
