"""The benchmark's derived figures (bench/ratios.py): what counts as the system's CPU and what is the client's."""

import math

import pytest

from bench.ratios import cpu_per_job, fraction


def test_cpu_per_job_totals_the_services_and_everything_but_the_bench_client() -> None:
    measured = {"reporting#0": 4.0, "feedback#0": 2.0, "mongod": 3.0, "rabbitmq": 1.0, "bench client": 2.0}

    figures = cpu_per_job(measured, jobs=2)

    assert figures["cpu_seconds_per_job"] == pytest.approx(3.0)  # the service replicas only
    assert figures["cpu_seconds_per_job_all_but_bench_client"] == pytest.approx(5.0)  # with MongoDB and RabbitMQ
    assert figures["cpu_seconds_per_job_bench_client"] == pytest.approx(1.0)
    assert figures["bench_client_share_of_cpu"] == pytest.approx(1 / 6)
    assert figures["cpu_seconds_per_job_by_process"] == {
        "bench client": 1.0,
        "feedback#0": 1.0,
        "mongod": 1.5,
        "rabbitmq": 0.5,
        "reporting#0": 2.0,
    }


def test_no_completed_job_and_no_cpu_give_figures_not_errors() -> None:
    figures = cpu_per_job({"bench client": 0.0}, jobs=0)

    assert figures["bench_client_share_of_cpu"] == 0.0
    assert figures["cpu_seconds_per_job_all_but_bench_client"] == 0.0


def test_fraction_of_a_limit() -> None:
    assert fraction(50.0, 1000.0) == pytest.approx(0.05)
    assert math.isnan(fraction(50.0, 0.0))
