"""`make bench`: whole service jobs through all nine phases on the six running services, measured.

Starts its own deployment of the six services (separate processes, own vhost, databases and
buckets, spans sent to an in-process OTLP receiver), then:
  1. throughput: N jobs (default 200) driven concurrently through the public HTTP APIs;
  2. latency at an offered load: jobs started at a fixed rate (default 5 per second);
  3. the raw broker baseline: aio-pika publish with confirms and consume with ack;
  4. the database-limit baseline: consumer-shaped MongoDB transactions from one process (dblimit.py).
The baselines run first, in the same run, so the ratios to them hold on a noisy machine.
Reports jobs per second, per-phase latency, event hop latency (publish span to consume span, from
the traces), HTTP latency per endpoint, CPU per job by process (the bench client apart), the ratio of
the system's event throughput to the raw baseline and of its consumed events to the database limit;
writes the result as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient, MongoClient

from bench.baseline import raw_baseline
from bench.dblimit import database_limit
from bench.ratios import cpu_per_job, fraction
from compressor_kit.deadletters import list_dead_letters
from compressor_kit.settings import Settings
from compressor_kit.testing import add_vhost, delete_vhost
from compressor_kit.testing.ports import free_port
from demo.flow import PHASES, JobResult, Office, run_job
from demo.otlp import OtlpReceiver
from demo.stack import Stack

RESULTS = Path(__file__).parent / "results"
ID_SEGMENT = re.compile(r"/(?=[A-Za-z0-9_.:-]*\d)[A-Za-z0-9_.:-]{6,}(?=/|$)")
PRODUCER, CONSUMER = 4, 5


class Sink:
    """Accepts every e-mail and keeps none (a real SMTP server for feedback to talk to)."""

    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


def summary(values: list[float], scale: float = 1.0) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": pct(values, 50) * scale,
        "p95": pct(values, 95) * scale,
        "p99": pct(values, 99) * scale,
    }


class HttpTimer:
    """httpx event hooks timing every request, grouped by endpoint (ids replaced by {id})."""

    def __init__(self) -> None:
        self.by_endpoint: dict[str, list[float]] = defaultdict(list)

    async def on_request(self, request: httpx.Request) -> None:
        request.extensions["started"] = time.perf_counter()

    async def on_response(self, response: httpx.Response) -> None:
        started = response.request.extensions.get("started")
        if started is not None:
            path = ID_SEGMENT.sub("/{id}", response.request.url.path)
            self.by_endpoint[f"{response.request.method} {response.request.url.port} {path}"].append(
                time.perf_counter() - started
            )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far (from /proc; Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy so far, every process counted (from /proc/stat; Linux)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def infrastructure_pids() -> dict[str, int]:
    """MongoDB and RabbitMQ when they run on this machine (started by infra/ or found by name). Of several
    (a test's own cluster alongside), the longest running: the shared servers start before anything else."""
    found: dict[str, tuple[int, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        if name in ("mongod", "beam.smp"):
            server = "mongod" if name == "mongod" else "rabbitmq"
            started = int(fields.split()[19])  # starttime, in clock ticks since boot
            if server not in found or started < found[server][0]:
                found[server] = (started, int(stat.parent.name))
    return {server: pid for server, (_, pid) in found.items()}


def event_hops(otlp: OtlpReceiver, since_ns: int) -> dict[str, list[float]]:
    """Seconds from each event's publish to each consume of it, by consumer ("service: span name", the
    span naming the event): a consume span's parent is the producer span whose trace context travelled
    in the message headers."""
    producers = {s.span_id: s.start_ns for s in otlp.spans if s.kind == PRODUCER and s.start_ns >= since_ns}
    hops: dict[str, list[float]] = defaultdict(list)
    for s in otlp.spans:
        if s.kind == CONSUMER and s.parent_span_id in producers:
            hops[f"{s.service}: {s.name}"].append((s.start_ns - producers[s.parent_span_id]) / 1e9)
    return hops


def events_published(otlp: OtlpReceiver, since_ns: int) -> int:
    return sum(
        1
        for s in otlp.spans
        if s.kind == PRODUCER and s.start_ns >= since_ns and s.attributes.get("messaging.operation") == "publish"
    )


async def events_consumed(mongodb_url: str, database_prefix: str) -> int:
    """Events the stack's consumers have handled so far: one inbox row per consumer and event (a
    redelivered duplicate writes none)."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    try:
        total = 0
        for name in await client.list_database_names():
            if name.startswith(database_prefix):
                total += await client[name]["inbox"].count_documents({})
        return total
    finally:
        await client.close()


async def drive(office: Office, jobs: int, *, concurrency: int, rate: float | None) -> tuple[list[JobResult], int]:
    results: list[JobResult] = []
    failures = 0
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        nonlocal failures
        async with gate:
            try:
                results.append(await run_job(office, n))
            except Exception as exc:  # counted and shown: a benchmark reports failures, it doesn't hide them
                failures += 1
                print(f"  job {n} failed: {exc!r}"[:300])

    tasks = []
    for n in range(1, jobs + 1):
        tasks.append(asyncio.create_task(one(n)))
        if rate:
            await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)
    return results, failures


async def scenario(
    stack: Stack,
    otlp: OtlpReceiver,
    name: str,
    jobs: int,
    concurrency: int,
    rate: float | None,
    *,
    mongodb_url: str,
    db_limit: float,
):
    """One run of `jobs`; `db_limit` (transactions per second) is the database-limit baseline's."""
    timer = HttpTimer()
    hooks = {"request": [timer.on_request], "response": [timer.on_response]}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=60, event_hooks=hooks, limits=limits) as client:
        office = Office(stack.urls(), client)
        await office.stock_parts_for(jobs)
        await office.staff_engineers_for(jobs)
        since_ns = time.time_ns()
        processes = {f"{p.service}#{p.replica}": p.process.pid for p in stack.processes}
        alongside = infrastructure_pids() | {"bench client": os.getpid()}
        watched = processes | alongside
        consumed_before = await events_consumed(mongodb_url, stack.database_prefix)
        cpu_before, started = {name: cpu_seconds([pid]) for name, pid in watched.items()}, time.perf_counter()
        machine_before = machine_cpu_seconds()
        results, failures = await drive(office, jobs, concurrency=concurrency, rate=rate)
        elapsed = time.perf_counter() - started
        cpu_by_process = {name: cpu_seconds([pid]) - cpu_before[name] for name, pid in watched.items()}
        # Other work on the machine meanwhile (tests, other benchmarks) skews every figure, the ratios too.
        outside = machine_cpu_seconds() - machine_before - sum(cpu_by_process.values())
        cpu = sum(cpu_by_process[name] for name in processes)
        # Counted when the last job answered, as the time is: the few events still in flight then are left out.
        consumed = await events_consumed(mongodb_url, stack.database_prefix) - consumed_before
    await asyncio.sleep(3)  # let the exporters flush the last spans
    hops = event_hops(otlp, since_ns)
    events = events_published(otlp, since_ns)
    per_phase = {
        f"{phase}. {PHASES[phase]}": summary(
            [r.phase_seconds[phase] for r in results if phase in r.phase_seconds], 1000
        )
        for phase in PHASES
    }
    return {
        "scenario": name,
        "jobs": jobs,
        "completed": len(results),
        "failed": failures,
        "offered_jobs_per_second": rate,
        "concurrency": concurrency,
        "seconds": elapsed,
        "jobs_per_second": len(results) / elapsed,
        "events_published": events,
        "events_per_second": events / elapsed,
        "events_consumed": consumed,
        "events_consumed_per_job": consumed / max(1, len(results)),
        "events_consumed_per_second": consumed / elapsed,
        "fraction_of_database_limit": fraction(consumed / elapsed, db_limit),
        "job_latency_ms": summary([sum(r.phase_seconds.values()) for r in results], 1000),
        "phase_latency_ms": per_phase,
        "event_hop_ms": summary([hop for consumer in hops.values() for hop in consumer], 1000),
        "event_hop_ms_by_consumer": {consumer: summary(values, 1000) for consumer, values in sorted(hops.items())},
        "http_ms": {endpoint: summary(values, 1000) for endpoint, values in sorted(timer.by_endpoint.items())},
        "cpu_utilisation_of_services": cpu / elapsed,
        "cpu_cores_used_outside_the_bench": max(0.0, outside / elapsed),
        **cpu_per_job(cpu_by_process, len(results)),
    }


def show(result: dict) -> None:
    print(f"\n== {result['scenario']}: {result['completed']}/{result['jobs']} jobs in {result['seconds']:.1f} s")
    print(
        f"   {result['jobs_per_second']:.2f} jobs/s, {result['events_per_second']:.0f} events/s published, "
        f"{result['events_consumed_per_second']:.0f} consumed ({result['events_consumed_per_job']:.0f} per job)"
    )
    print(f"   consumed events / database limit: {result['fraction_of_database_limit']:.3f}")
    job = result["job_latency_ms"]
    print(f"   whole job p50 {job['p50']:.0f} ms, p95 {job['p95']:.0f} ms, p99 {job['p99']:.0f} ms")
    hop = result["event_hop_ms"]
    by_consumer = sorted(result["event_hop_ms_by_consumer"].items(), key=lambda item: -item[1]["p99"])[:4]
    slowest = ", ".join(f"{consumer} p50 {f['p50']:.0f} p99 {f['p99']:.0f}" for consumer, f in by_consumer)
    print(
        f"   event hop (publish -> consume) p50 {hop['p50']:.1f} ms, p99 {hop['p99']:.1f} ms over {hop['count']} hops"
    )
    print(f"   slowest hops (ms): {slowest}")
    print(
        f"   CPU s per job: {result['cpu_seconds_per_job_all_but_bench_client']:.2f} all processes but the bench "
        f"client, of which the services {result['cpu_seconds_per_job']:.2f} "
        f"(they use {result['cpu_utilisation_of_services']:.2f} cores); the bench client apart "
        f"{result['cpu_seconds_per_job_bench_client']:.2f} ({result['bench_client_share_of_cpu']:.0%} of all)"
    )
    print(
        f"   other processes on the machine used {result['cpu_cores_used_outside_the_bench']:.2f} cores meanwhile "
        "(compare runs where this is near 0)"
    )
    by_process = result["cpu_seconds_per_job_by_process"].items()
    by_process = ", ".join(f"{name} {seconds:.2f}" for name, seconds in by_process)
    print(f"   CPU s per job by process: {by_process}")
    for phase, figures in result["phase_latency_ms"].items():
        print(
            f"   phase {phase[:48]:<48} p50 {figures['p50']:7.0f} ms  "
            f"p95 {figures['p95']:7.0f}  p99 {figures['p99']:7.0f}"
        )
    slowest = sorted(result["http_ms"].items(), key=lambda item: -item[1]["p95"])[:8]
    print("   slowest endpoints (p95):")
    for endpoint, figures in slowest:
        print(f"     {endpoint:<60} p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f}  n={figures['count']}")


async def main(args: argparse.Namespace) -> int:
    settings = Settings(environment="test")  # the local servers, as the stack it starts
    mongodb_url = settings.mongodb_url.get_secret_value()
    vhost = f"bench-{uuid.uuid4().hex[:8]}"
    add_vhost(vhost)
    amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    prefix = vhost.replace("-", "_") + "_"
    results = []
    dead = []
    try:
        print(f"raw baseline: aio-pika, {args.baseline_messages} messages, confirms and acks, quorum queue ...")
        baseline = await raw_baseline(amqp_url, args.baseline_messages)
        print(
            f"   {baseline['messages_per_second']:.0f} messages/s, latency p50 {baseline['latency_ms']['p50']:.1f} ms"
        )
        print(
            f"database limit: {args.db_baseline_transactions} consumer-shaped transactions "
            "(inbox upsert, state update, outbox insert) at 4, 8 and 16 in flight ..."
        )
        db_limit = await database_limit(mongodb_url, f"{prefix}dblimit", transactions=args.db_baseline_transactions)
        by_in_flight = ", ".join(
            f"{tps:.0f} at {n}" for n, tps in db_limit["transactions_per_second_by_in_flight"].items()
        )
        print(f"   {db_limit['transactions_per_second']:.0f} transactions/s ({by_in_flight})")
        limit = {"mongodb_url": mongodb_url, "db_limit": db_limit["transactions_per_second"]}
        mail = Controller(Sink(), hostname="127.0.0.1", port=free_port())
        mail.start()
        logs = Path("var/log/bench")  # the Stack creates it
        with OtlpReceiver() as otlp:
            stack = Stack(
                rabbitmq_url=amqp_url,
                database_prefix=prefix,
                bucket_prefix=f"{vhost}-",
                log_dir=logs,
                replicas=args.replicas,
                env={
                    "LOG_LEVEL": "WARNING",
                    "OTEL_BSP_SCHEDULE_DELAY": "500",
                    "OTEL_BSP_MAX_QUEUE_SIZE": "200000",
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
                    **({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint} if args.export_spans else {}),
                    "REPORT_PUBLISH_INTERVAL_SECONDS": "0.5",
                    "DELIVERY_INTERVAL_SECONDS": "0.5",
                    "SMTP_PORT": str(mail.port),
                    # Every customer's survey answer comes from this one client address.
                    "SURVEY_REQUESTS_PER_ADDRESS_PER_MINUTE": "10000",
                },
            )
            with stack:
                print(f"stack: six services x {args.replicas} process(es) ready")
                if args.rate:
                    offered = max(1, int(args.rate * args.rate_seconds))
                    results.append(await scenario(stack, otlp, "offered load", offered, offered, args.rate, **limit))
                    show(results[-1])
                results.append(await scenario(stack, otlp, "throughput", args.jobs, args.concurrency, None, **limit))
                show(results[-1])
                dead = await list_dead_letters(amqp_url)
                print(
                    f"dead letters: {len(dead)}"
                    + "".join(f"\n  {d.service}: {d.event_type} {d.error[:200]}" for d in dead[:10])
                )
        mail.stop()
    finally:
        with MongoClient(mongodb_url) as client:
            for name in client.list_database_names():
                if name.startswith(prefix):
                    client.drop_database(name)
        delete_vhost(vhost)
    throughput = results[-1]
    ratio = throughput["events_per_second"] / baseline["messages_per_second"]
    print(f"\nsystem event throughput / raw broker baseline: {ratio:.3f}")
    print(
        f"system consumed events / database limit: {throughput['fraction_of_database_limit']:.3f} "
        f"({throughput['events_consumed_per_second']:.0f} / {db_limit['transactions_per_second']:.0f} per second)"
    )
    report = {
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "replicas": args.replicas,
        "baseline": baseline,
        "database_limit": db_limit,
        "scenarios": results,
        "dead_letters": [{"service": d.service, "event_type": d.event_type, "error": d.error} for d in dead],
        "event_throughput_ratio_to_baseline": ratio,
        "consumed_events_fraction_of_database_limit": throughput["fraction_of_database_limit"],
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"written {path}")
    return 0 if all(r["failed"] == 0 for r in results) and not dead else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs in the throughput run")
    parser.add_argument("--concurrency", type=int, default=50, help="jobs in flight at once in the throughput run")
    parser.add_argument("--rate", type=float, default=5.0, help="offered jobs per second in the latency run (0: skip)")
    parser.add_argument("--rate-seconds", type=float, default=12.0, help="how long the offered load lasts")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument(
        "--no-export-spans",
        dest="export_spans",
        action="store_false",
        help="keep spans in the services (no OTLP export, no event hop figures): measures tracing's cost",
    )
    parser.add_argument("--baseline-messages", type=int, default=5000)
    parser.add_argument(
        "--db-baseline-transactions", type=int, default=1500, help="transactions at each number in flight"
    )
    raise SystemExit(asyncio.run(main(parser.parse_args())))
