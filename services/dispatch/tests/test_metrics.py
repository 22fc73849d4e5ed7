"""Dispatch's SLA gauges at scrape time follow the clock: at risk, then breached, per deadline."""

from datetime import timedelta

from compressor_kit.testing.metrics import scrape, value

from .dispatch_support import create_engineer
from .test_sla import committed_critical_job

SLA_JOBS = "compressor_dispatch_sla_jobs"


async def test_the_sla_gauges_count_open_jobs_at_risk_and_breached_now(
    client, clock, as_dispatcher, amqp_url, test_db, tokens
):
    await create_engineer(client, as_dispatcher, "Lim Wei Jie")
    await committed_critical_job(client, as_dispatcher, amqp_url, test_db, tokens, "JOB-M1")

    def states(scraped) -> dict[str, float]:
        return {
            f"{deadline}:{state}": value(scraped, SLA_JOBS, deadline=deadline, state=state)
            for deadline in ("arrive_by", "resolve_by")
            for state in ("at_risk", "breached")
        }

    none = {"arrive_by:at_risk": 0, "arrive_by:breached": 0, "resolve_by:at_risk": 0, "resolve_by:breached": 0}
    assert states(await scrape(client)) == none
    clock.advance(timedelta(hours=3, minutes=1))  # 75% of the 4 h to arrive-by is gone
    assert states(await scrape(client)) == {**none, "arrive_by:at_risk": 1}
    clock.advance(timedelta(hours=1))  # arrive-by passed without job.engineer_arrived
    assert states(await scrape(client)) == {**none, "arrive_by:breached": 1}
    clock.advance(timedelta(hours=17))  # resolve-by passed too
    assert states(await scrape(client)) == {**none, "arrive_by:breached": 1, "resolve_by:breached": 1}
