"""Matching rules, pure: skills, region, calendar (shifts, leave), capacity, workload balance."""

from datetime import UTC, date, datetime, timedelta

from dispatch_service.engineers.domain import EngineerProfile
from dispatch_service.matching.domain import Booking, JobNeeds, free_slot, match, round_up

MONDAY_8 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday
VISIT = timedelta(hours=2)


def engineer(
    engineer_id="ENG-001",
    *,
    types=("oil_injected_screw",),
    brands=("Atlas Copco",),
    regions=("central",),
    shifts=None,
    leave=(),
    capacity=4,
    active=True,
    timezone="UTC",
):
    return EngineerProfile(
        engineer_id=engineer_id,
        name=f"Engineer {engineer_id}",
        compressor_types=frozenset(types),
        brands=frozenset(b.casefold() for b in brands),
        certifications=(),
        regions=frozenset(regions),
        timezone=timezone,
        shifts=tuple(shifts if shifts is not None else [(d, 8 * 60, 17 * 60) for d in range(5)]),
        leave=tuple(leave),
        capacity_per_day=capacity,
        active=active,
    )


def needs(priority_hours=8, *, earliest=MONDAY_8, brand="Atlas Copco", ctype="oil_injected_screw", region="central"):
    return JobNeeds(
        job_id="JOB-1",
        region=region,
        compressor_type=ctype,
        brand=brand,
        priority="high",
        earliest=earliest,
        latest_start=earliest + timedelta(hours=priority_hours),
    )


def test_only_engineers_with_the_region_type_and_brand_are_candidates_and_the_reason_says_why():
    right = engineer("ENG-003")
    wrong_region = engineer("ENG-001", regions=("northern",))
    wrong_brand = engineer("ENG-002", brands=("Kaeser",))
    wrong_type = engineer("ENG-004", types=("centrifugal",))
    decision = match(needs(), [wrong_region, wrong_brand, wrong_type, right], {}, VISIT)
    assert decision.chosen.engineer.engineer_id == "ENG-003"
    assert decision.chosen.matched_skills == ("oil_injected_screw", "brand:Atlas Copco")
    assert "ENG-003" in decision.reason and "region central" in decision.reason
    assert "ENG-001 (does not cover region central)" in decision.reason
    assert "ENG-002 (not trained on the Atlas Copco brand)" in decision.reason
    assert "ENG-004 (not skilled in oil_injected_screw compressors)" in decision.reason


def test_brand_matching_ignores_case():
    decision = match(needs(brand="ATLAS COPCO"), [engineer()], {}, VISIT)
    assert decision.chosen is not None


def test_the_earliest_free_slot_wins_over_an_engineer_on_leave_or_off_shift():
    on_leave = engineer("ENG-001", leave=[(date(2030, 1, 7), date(2030, 1, 9))])
    late_shift = engineer("ENG-002", shifts=[(0, 13 * 60, 22 * 60)])
    early = engineer("ENG-003", shifts=[(0, 9 * 60, 17 * 60)])
    decision = match(needs(), [on_leave, late_shift, early], {}, VISIT)
    assert decision.chosen.engineer.engineer_id == "ENG-003"
    assert decision.chosen.slot.start == MONDAY_8 + timedelta(hours=1)
    assert "ENG-001 (on leave" in decision.reason
    assert "Later slots: ENG-002 (2030-01-07 13:00 UTC)" in decision.reason


def test_ties_go_to_the_engineer_with_fewer_jobs():
    busy = engineer("ENG-001", capacity=8)
    free = engineer("ENG-002", capacity=8)
    tuesday = date(2030, 1, 8)
    bookings = {
        "ENG-001": {
            tuesday: [
                Booking("J1", MONDAY_8 + timedelta(days=1), MONDAY_8 + timedelta(days=1, hours=2)),
                Booking("J2", MONDAY_8 + timedelta(days=1, hours=2), MONDAY_8 + timedelta(days=1, hours=4)),
            ]
        },
        "ENG-002": {tuesday: [Booking("J3", MONDAY_8 + timedelta(days=1), MONDAY_8 + timedelta(days=1, hours=2))]},
    }
    decision = match(needs(48), [busy, free], bookings, VISIT)
    assert decision.chosen.engineer.engineer_id == "ENG-002"
    assert decision.chosen.workload == 1
    assert "Same slot, not fewer jobs booked: ENG-001 (2)" in decision.reason


def test_a_full_day_moves_the_slot_to_the_next_working_day_and_capacity_counts():
    one_a_day = engineer(capacity=1)
    monday = [Booking("J1", MONDAY_8, MONDAY_8 + VISIT)]
    slot, _ = free_slot(one_a_day, {date(2030, 1, 7): monday}, MONDAY_8, MONDAY_8 + timedelta(days=3), VISIT)
    assert slot.start == MONDAY_8 + timedelta(days=1)
    slot, why = free_slot(one_a_day, {date(2030, 1, 7): monday}, MONDAY_8, MONDAY_8 + timedelta(hours=6), VISIT)
    assert slot is None and "fully booked" in why


def test_a_slot_starts_after_overlapping_bookings_of_the_day():
    bookings = {date(2030, 1, 7): [Booking("J1", MONDAY_8, MONDAY_8 + VISIT)]}
    slot, _ = free_slot(engineer(), bookings, MONDAY_8, MONDAY_8 + timedelta(hours=8), VISIT)
    assert slot.start == MONDAY_8 + VISIT and slot.booked_that_day == 1


def test_nobody_matches_when_no_slot_starts_within_the_target():
    weekend_request = datetime(2030, 1, 5, 10, tzinfo=UTC)  # Saturday; weekday shifts only
    decision = match(needs(4, earliest=weekend_request), [engineer()], {}, VISIT)
    assert decision.chosen is None
    assert "No engineer can be assigned" in decision.reason
    assert "ENG-001: no free slot in a shift before 2030-01-05 14:00 UTC" in decision.reason


def test_inactive_engineers_and_an_empty_roster_explain_themselves():
    assert "ENG-001: inactive" in match(needs(), [engineer(active=False)], {}, VISIT).reason
    assert "No engineers are registered" in match(needs(), [], {}, VISIT).reason


def test_shifts_follow_the_engineers_time_zone():
    kl = engineer(timezone="Asia/Kuala_Lumpur")  # 08:00 in Kuala Lumpur is 00:00 UTC
    slot, _ = free_slot(kl, {}, datetime(2030, 1, 7, 0, 0, tzinfo=UTC), MONDAY_8, VISIT)
    assert slot.start == datetime(2030, 1, 7, 0, 0, tzinfo=UTC)
    assert slot.day == date(2030, 1, 7)


def test_slots_start_on_quarter_hours():
    assert round_up(MONDAY_8 + timedelta(minutes=1)) == MONDAY_8 + timedelta(minutes=15)
    assert round_up(MONDAY_8) == MONDAY_8
