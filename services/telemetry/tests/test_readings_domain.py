"""Which readings are taken in, and when a service level comes due (pure, no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from compressor_contracts.events.telemetry import DueBy
from telemetry_service.devices.domain import Device, ServiceLevelInterval, add_months, comes_due, due_points
from telemetry_service.readings.domain import (
    RECENT_KEPT,
    Accepted,
    DeviceState,
    LastReading,
    Reading,
    Rejected,
    RejectionReason,
    assess,
    hours_per_day,
    parse,
)

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
MYT = timezone(timedelta(hours=8))


def reading(**fields) -> Reading:
    return Reading(**{"device_id": "DEV-1", "read_at": NOW - timedelta(minutes=1), "running_hours": 1000, **fields})


def device(**fields) -> Device:
    return Device(
        **{
            "device_id": "DEV-1",
            "equipment_id": "EQ-1",
            "gateway_id": "GW-1",
            "controller_family": "elektronikon",
            "service_levels": [ServiceLevelInterval(level="A", hours=4000, months=12)],
            "last_service_on": date(2026, 6, 1),
            "last_service_hours": 20_000,
            "registered_at": NOW,
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", None),
        (b'{"device_id": "DEV-1"}', "read_at"),
        (b'{"device_id": "DEV-1", "read_at": "2026-11-30T07:59:00Z", "running_hours": "many"}', "running_hours"),
        (b'{"device_id": "DEV-1", "read_at": "2026-11-30T07:59:00Z", "colour": "red"}', "colour"),
    ],
)
def test_a_malformed_payload_is_rejected_naming_the_field(payload, field):
    result = parse(payload)
    assert isinstance(result, Rejected)
    assert result.reason is RejectionReason.MALFORMED
    assert result.field == field


def test_a_well_formed_payload_is_a_reading():
    result = parse(b'{"device_id": "DEV-1", "read_at": "2026-11-30T07:59:00Z", "remaining_hours": {"A": 12}}')
    assert isinstance(result, Reading)
    assert result.remaining_hours == {"A": 12}


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        ({"element_outlet_temperature_c": 900}, RejectionReason.OUT_OF_RANGE, "element_outlet_temperature_c"),
        ({"discharge_pressure_bar": -1}, RejectionReason.OUT_OF_RANGE, "discharge_pressure_bar"),
        ({"remaining_hours": {"A": 10**6}}, RejectionReason.OUT_OF_RANGE, "remaining_hours.A"),
        ({"read_at": NOW + timedelta(hours=1)}, RejectionReason.FROM_THE_FUTURE, "read_at"),
        ({"read_at": NOW - timedelta(days=90)}, RejectionReason.TOO_OLD, "read_at"),
    ],
)
def test_values_no_working_controller_reports_are_rejected(fields, reason, field):
    result = assess(reading(**fields), None, NOW)
    assert isinstance(result, Rejected)
    assert (result.reason, result.field) == (reason, field)


def test_a_counter_that_goes_backwards_is_rejected_but_a_controller_reset_is_taken_in():
    last = LastReading(NOW - timedelta(hours=1), 1000.0, 800.0)
    backwards = assess(reading(running_hours=990, loaded_hours=800), last, NOW)
    assert isinstance(backwards, Rejected)
    assert (backwards.reason, backwards.field) == (RejectionReason.COUNTER_BACKWARDS, "running_hours")
    reset = assess(reading(running_hours=2, loaded_hours=1), last, NOW)
    assert isinstance(reset, Accepted) and reset.controller_reset
    onward = assess(reading(running_hours=1001, loaded_hours=801), last, NOW)
    assert isinstance(onward, Accepted) and not onward.controller_reset


def test_recent_use_is_measured_from_the_hour_meter():
    earlier = LastReading(NOW - timedelta(days=10), 800.0, None)
    assert hours_per_day(earlier, reading(read_at=NOW, running_hours=1000), 16) == pytest.approx(20)
    assert hours_per_day(None, reading(), 16) == 16


def test_a_level_comes_due_by_running_hours_when_they_come_first():
    today = date(2026, 11, 30)
    [point] = due_points(device(), today=today, running_hours=23_900, remaining_hours={}, hours_per_day=20)
    assert point.due_by is DueBy.RUNNING_HOURS
    assert point.due_at_hours == 24_000
    assert point.due_on == today + timedelta(days=5)
    assert comes_due(point, today, lead_days=14)
    assert not comes_due(point, today, lead_days=2)


def test_a_level_comes_due_by_the_calendar_when_it_comes_first():
    today = date(2027, 5, 25)
    [point] = due_points(device(), today=today, running_hours=21_000, remaining_hours={}, hours_per_day=8)
    assert point.due_by is DueBy.CALENDAR
    assert point.due_on == add_months(date(2026, 6, 1), 12) == date(2027, 6, 1)
    assert comes_due(point, today, lead_days=14)


def test_the_controllers_own_count_of_remaining_hours_wins_and_the_key_stays_the_same_reading_after_reading():
    today = date(2026, 11, 30)
    first = due_points(device(), today=today, running_hours=23_000, remaining_hours={"A": 300}, hours_per_day=20)[0]
    later = due_points(device(), today=today, running_hours=23_100, remaining_hours={"A": 200}, hours_per_day=20)[0]
    assert first.due_at_hours == later.due_at_hours == 23_300
    assert first.key == later.key
    # The estimate crossing the calendar date changes how it is due, not which due point it is.
    slow = due_points(device(), today=today, running_hours=23_100, remaining_hours={"A": 200}, hours_per_day=0.1)[0]
    assert slow.due_by is DueBy.CALENDAR and slow.key == first.key
    # A recorded service starts a new cycle: a new key.
    serviced = device(last_service_on=date(2026, 12, 1), last_service_hours=23_300)
    assert (
        due_points(serviced, today=today, running_hours=23_300, remaining_hours={}, hours_per_day=20)[0].key
        != first.key
    )


def test_month_arithmetic_keeps_the_end_of_the_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


def test_counters_in_fractions_of_an_hour_name_the_same_due_point():
    today = date(2026, 11, 30)
    first = due_points(device(), today=today, running_hours=25_860.8, remaining_hours={"A": 139.2}, hours_per_day=20)
    later = due_points(device(), today=today, running_hours=25_864.0, remaining_hours={"A": 136.0}, hours_per_day=20)
    assert first[0].due_at_hours == later[0].due_at_hours == 26_000
    assert first[0].key == later[0].key


def test_a_devices_state_moves_forward_only_and_remembers_what_it_took_in():
    day = timedelta(days=1)
    first = reading(read_at=NOW - 20 * day, running_hours=1000)
    state = DeviceState().taking(first)
    assert state.last == state.anchor == LastReading(first.read_at, 1000, None)

    later = reading(read_at=NOW - 10 * day, running_hours=1160)
    state = state.taking(later)
    assert state.last is not None and state.last.running_hours == 1160
    assert state.anchor is not None and state.anchor.running_hours == 1000  # less than a fortnight since

    late = reading(read_at=NOW - 15 * day, running_hours=1080)
    after_late = state.taking(late)
    assert (after_late.last, after_late.anchor) == (state.last, state.anchor)  # a late reading moves nothing
    assert after_late.has(late.read_at) and not after_late.is_later(late.read_at)

    latest = reading(read_at=NOW, running_hours=1320)
    state = after_late.taking(latest)
    # The anchor was over a fortnight old: the previous last reading becomes it.
    assert state.anchor is not None and state.anchor.running_hours == 1160

    for minute in range(RECENT_KEPT + 5):
        state = state.taking(reading(read_at=NOW + timedelta(minutes=minute + 1)))
    assert len(state.recent) == RECENT_KEPT and not state.has(first.read_at)
    # The same instant in another zone, with microseconds MongoDB would not keep, is the same reading.
    again = reading(read_at=(NOW + timedelta(minutes=RECENT_KEPT + 5, microseconds=417)).astimezone(MYT))
    assert state.has(again.read_at)
