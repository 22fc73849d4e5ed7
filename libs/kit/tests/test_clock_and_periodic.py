import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from compressor_kit.clock import ManualClock, SystemClock
from compressor_kit.pagination import Page
from compressor_kit.periodic import periodic


def test_manual_clock_moves_only_when_told():
    start = datetime(2026, 1, 1, 8, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.advance(timedelta(hours=2)) == start + timedelta(hours=2)
    assert clock.now() == start + timedelta(hours=2)
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))


def test_system_clock_is_timezone_aware():
    assert SystemClock().now().tzinfo is not None


def test_page_offers_the_next_offset_until_the_end():
    assert Page(items=[1, 2], total=5, limit=2, offset=0).next_offset == 2
    assert Page(items=[5], total=5, limit=2, offset=4).next_offset is None


async def test_periodic_job_keeps_running_after_a_failed_round():
    rounds = []
    three_rounds = asyncio.Event()

    async def work(runtime):
        rounds.append(len(rounds))
        if len(rounds) == 3:
            three_rounds.set()
        if len(rounds) == 1:
            raise RuntimeError("first round fails")

    class FakeRuntime:
        name = "test"
        settings = object()

    task = asyncio.create_task(periodic(lambda settings: 0.01, work)(FakeRuntime()))
    await asyncio.wait_for(three_rounds.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rounds[:3] == [0, 1, 2]
