"""Alarm episodes, pure: a shutdown raises at once, a warning only once it persisted past the grace, an
alarm that clears within the grace raises nothing, and a flapping alarm is one episode raised once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from compressor_contracts.events.telemetry import AlarmSeverity
from telemetry_service.alarms import codes
from telemetry_service.alarms.domain import AlarmPolicy, Episode, active_codes, judge
from telemetry_service.silence.domain import silent

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POLICY = AlarmPolicy(grace=timedelta(minutes=10), flap=timedelta(hours=1))


def run(readings: list[tuple[float, list[str], list[str]]]) -> list[Episode]:
    """Feed (minutes after T0, alarms, warnings) readings through `judge`, keeping the episodes as the
    store does; every episode raised, in order."""
    episodes: dict[str, Episode] = {}
    raised: list[Episode] = []
    for minutes, alarms, warnings in readings:
        judged = judge(
            episodes,
            device_id="DEV-1",
            read_at=T0 + timedelta(minutes=minutes),
            active=active_codes(alarms, warnings),
            policy=POLICY,
        )
        for episode in judged.over:
            del episodes[episode.code]
        episodes.update({episode.code: episode for episode in judged.changed})
        raised += judged.raised
    return raised


def test_a_shutdown_raises_at_once():
    [raised] = run([(0, [], []), (1, ["E-TEMP-HIGH"], []), (2, ["E-TEMP-HIGH"], [])])
    assert (raised.code, raised.severity, raised.started_at) == (
        "E-TEMP-HIGH",
        AlarmSeverity.SHUTDOWN,
        T0 + timedelta(minutes=1),
    )


def test_a_warning_raises_only_once_it_persisted_past_the_grace():
    minutes = [0, 3, 6, 9]
    assert run([(m, [], ["W-SEP-DP"]) for m in minutes]) == []
    [raised] = run([(m, [], ["W-SEP-DP"]) for m in [*minutes, 10, 11, 30]])
    assert (raised.severity, raised.started_at) == (AlarmSeverity.WARNING, T0)


def test_an_alarm_that_clears_within_the_grace_raises_nothing():
    cleared = [(0, [], ["W-SEP-DP"]), (5, [], ["W-SEP-DP"]), (8, [], [])]
    quiet_after = [(8 + 10 * n, [], []) for n in range(1, 20)]  # three hours clear
    assert run(cleared + quiet_after) == []
    # Back after the flap window: a new episode, which again must persist to raise.
    assert run([*cleared, *quiet_after, (200, [], ["W-SEP-DP"])]) == []


def test_a_flapping_alarm_is_one_episode_raised_once():
    flapping = [(m, ["E-MOTOR-OVERLOAD"] if m % 10 < 5 else [], []) for m in range(0, 180, 2)]
    [raised] = run(flapping)
    assert raised.started_at == T0
    # A flapping warning too: raised once, as soon as the episode has lasted the grace.
    warning = [(m, [], ["W-TEMP"] if m % 8 < 3 else []) for m in range(0, 180)]
    [raised] = run(warning)
    assert raised.severity is AlarmSeverity.WARNING


def test_an_alarm_back_after_the_flap_window_is_a_new_episode():
    first, second = run([(0, ["E-1"], []), (5, [], []), (70, [], []), (80, ["E-1"], [])])
    assert first.episode_id != second.episode_id
    assert second.started_at == T0 + timedelta(minutes=80)


def test_a_late_reading_changes_no_episode():
    raised = run([(0, [], ["W-1"]), (5, [], ["W-1"]), (4, [], []), (12, [], ["W-1"])])
    assert len(raised) == 1


def test_a_device_is_silent_after_the_days_without_a_reading_once_per_last_reading():
    registered = T0 - timedelta(days=30)
    now = T0 + timedelta(days=3)
    assert (
        silent("DEV-1", "EQ-1", registered_at=registered, last_reading_at=T0 + timedelta(hours=1), now=now, days=3)
        is None
    )
    quiet = silent("DEV-1", "EQ-1", registered_at=registered, last_reading_at=T0, now=now, days=3)
    assert quiet is not None and quiet.days(now) == 3
    later = silent("DEV-1", "EQ-1", registered_at=registered, last_reading_at=T0, now=now + timedelta(days=2), days=3)
    assert later is not None and later.key == quiet.key
    never = silent("DEV-1", "EQ-1", registered_at=registered, last_reading_at=None, now=now, days=3)
    assert never is not None and never.since == registered and never.key != quiet.key


def test_an_alarm_is_described_in_its_register_maps_words_or_by_its_code():
    maps = sorted(codes.MAPS.glob("*.json"))
    if not maps:
        pytest.skip("no register maps yet")
    for path in maps:
        register_map = json.loads(path.read_text("utf-8"))
        for entry in [*register_map.get("alarms", []), *register_map.get("warnings", [])]:
            assert codes.describe(entry["code"], path.stem) == entry["description"]
            assert codes.describe(entry["code"], "another-family") == entry["description"]
    assert codes.describe("X-UNHEARD-OF", maps[0].stem) == "X-UNHEARD-OF"
