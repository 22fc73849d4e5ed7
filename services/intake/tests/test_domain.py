"""Intake's pure rules: fast, no servers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from compressor_contracts import CompressorType, JobRequested, Priority, RequestChannel
from compressor_contracts.examples import example
from compressor_kit.refusals import Refusal, RefusalKind
from intake_service.catalogue.store import CATALOGUE
from intake_service.customer_file import domain as file_domain
from intake_service.customer_file.domain import ContactDetails, SiteOnFile, UnitDetails, UnitOnFile
from intake_service.proactive import domain as proactive
from intake_service.requests import domain as requests
from intake_service.requests.domain import Job, ServiceRequest

GA37 = CATALOGUE.get("AC-GA37VSD")
assert GA37 is not None
TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def refused_fields(decide: Callable[[], object]) -> list[str | None]:
    """The fields a decision refuses, in order (it must refuse as invalid)."""
    with pytest.raises(Refusal) as refused:
        decide()
    assert refused.value.kind is RefusalKind.INVALID
    return [issue.field for issue in refused.value.issues]


def test_the_catalogue_covers_the_usual_brands_and_every_compressor_type():
    models = CATALOGUE.search()
    assert {m.brand for m in models} >= {
        "Atlas Copco", "Ingersoll Rand", "Kaeser", "Sullair", "Quincy", "Hitachi", "ELGi"
    }  # fmt: skip
    assert {m.compressor_type for m in models} == set(CompressorType)
    assert all(m.service_interval_hours > 0 and m.service_interval_months > 0 for m in models)
    assert [m.model_code for m in CATALOGUE.search(brand="kaeser", compressor_type=CompressorType.PISTON)] == [
        "KS-KCCD250"
    ]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("+60 12-345 6789", "+60123456789"), ("0060123456789", "+60123456789"), ("+1 (415) 555-0100", "+14155550100")],
)
def test_phone_numbers_are_stored_in_e164(typed, stored):
    assert file_domain.normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", ["012-345 6789", "+0123456789", "+60 12", "call me", "+60123456789012345"])
def test_a_phone_number_without_country_or_of_the_wrong_length_is_refused(typed):
    assert file_domain.normalise_phone(typed) is None


@pytest.mark.parametrize("address", ["a@b", "a@@b.com", "a b@c.com", "a@b..com", "@b.com", "a@-b.com"])
def test_invalid_email_addresses_are_refused(address):
    assert not file_domain.valid_email(address)


def test_a_contact_error_names_the_field_and_a_contact_needs_a_way_to_reach_them():
    contacts = [ContactDetails(name="A", phone="+60 12-345 6789"), ContactDetails(name="B", email="nope")]
    assert refused_fields(lambda: file_domain.open_customer("C", "Acme", contacts, NOW)) == ["contacts[1].email"]
    assert refused_fields(lambda: file_domain.checked_contact(ContactDetails(name="A"), "contact")) == ["contact.phone"]
    contact = file_domain.checked_contact(ContactDetails(name="A", email="a@b.example"), "contact")
    assert contact.email == "a@b.example"


def test_months_are_added_calendar_wise():
    assert file_domain.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert file_domain.add_months(date(2025, 12, 1), 6) == date(2026, 6, 1)
    assert file_domain.add_months(date(2026, 8, 15), 12) == date(2027, 8, 15)


def test_next_service_due_counts_from_the_last_service_or_from_purchase():
    assert file_domain.next_service_due(
        GA37, purchase_date=date(2021, 6, 14), last_service_on=date(2026, 3, 3), last_service_hours=23_436
    ) == (date(2026, 9, 3), 27_436)
    assert file_domain.next_service_due(
        GA37, purchase_date=date(2026, 1, 10), last_service_on=None, last_service_hours=None
    ) == (date(2026, 7, 10), 4_000)
    assert file_domain.next_service_due(
        GA37, purchase_date=date(2021, 6, 14), last_service_on=date(2026, 3, 3), last_service_hours=None
    ) == (date(2026, 9, 3), None)


SITE = SiteOnFile(
    site_id="S", customer_id="C", name="Plant", address="Lot 1", city="Shah Alam", country="MY", region="central"
)


def equipment_in(**changes) -> UnitDetails:
    return UnitDetails(
        **{"model_code": "AC-GA37VSD", "serial_number": "A1", "purchase_date": date(2021, 6, 14), **changes}
    )


def register(details: UnitDetails, model=GA37, site: SiteOnFile | None = SITE) -> UnitOnFile:
    return file_domain.register_unit("EQ-1", "C", "S", details, site=site, model=model, today=TODAY)


def test_equipment_rules_name_each_wrong_field():
    assert register(equipment_in()).next_service_due_on == date(2021, 12, 14)
    assert refused_fields(lambda: register(equipment_in(purchase_date=date(2026, 3, 3)))) == ["purchase_date"]
    assert refused_fields(lambda: register(equipment_in(), model=None)) == ["model_code"]
    assert refused_fields(lambda: register(equipment_in(), site=None)) == ["site_id"]
    wrong = equipment_in(warranty_end=date(2020, 1, 1), last_service_on=date(2027, 1, 1), running_hours=-1)
    assert set(refused_fields(lambda: register(wrong))) == {"warranty_end", "last_service_on", "running_hours"}


def unit(**changes) -> UnitOnFile:
    described = UnitDetails(
        model_code="AC-GA37VSD",
        serial_number="A1",
        purchase_date=date(2021, 6, 14),
        running_hours=23_410,
        last_service_on=date(2025, 12, 1),
        last_service_hours=22_000,
    )
    on_file = file_domain.new_unit("EQ-1", "CUST-1", "SITE-1", GA37, described)
    return UnitOnFile.model_validate({**on_file.model_dump(), **changes})


SERVICE_FIELDS = ("running_hours", "last_service_on", "last_service_hours", "next_service_due_on")


def service_fields(after: UnitOnFile) -> dict:
    return after.model_dump(mode="json", include={*SERVICE_FIELDS, "next_service_due_at_hours"})


def test_a_closed_job_moves_the_last_and_next_service_on():
    after = file_domain.after_service(unit(), GA37, example("job.closed.v1"))
    assert service_fields(after) == {
        "running_hours": 23_436,
        "last_service_on": "2026-03-03",
        "last_service_hours": 23_436,
        "next_service_due_on": "2026-09-03",
        "next_service_due_at_hours": 27_436,
    }


def test_an_older_service_closed_late_does_not_move_the_last_service_back():
    before = unit(last_service_on="2026-04-01")
    after = file_domain.after_service(before, GA37, example("job.closed.v1"))
    assert service_fields(after) == {**service_fields(before), "running_hours": 23_436}


def test_a_unit_is_due_by_date_within_the_lead_time_or_by_hours():
    assert not proactive.is_due(unit(), TODAY, lead_days=14)  # due 2026-06-01 / 26,000 h
    assert proactive.is_due(unit(next_service_due_on="2026-03-16"), TODAY, lead_days=14)  # a string, as stored
    assert not proactive.is_due(unit(next_service_due_on="2026-03-17"), TODAY, lead_days=14)
    assert proactive.is_due(unit(running_hours=26_000), TODAY, lead_days=14)
    assert not proactive.is_due(unit(running_hours=None), TODAY, lead_days=14)


def test_the_due_period_names_the_unit_and_what_it_is_due_at_and_overdue_is_normal_priority():
    assert proactive.due_period(unit()) == "EQ-1:2026-06-01/26000h"
    assert proactive.due_period(unit(next_service_due_at_hours=None)) == "EQ-1:2026-06-01"
    assert proactive.proactive_priority(unit(next_service_due_on="2026-03-10"), TODAY) is Priority.LOW
    assert proactive.proactive_priority(unit(next_service_due_on="2026-03-01"), TODAY) is Priority.NORMAL
    assert proactive.proactive_priority(unit(running_hours=26_001), TODAY) is Priority.NORMAL


def request(**changes) -> ServiceRequest:
    body = {"channel": RequestChannel.PHONE, "customer_id": "C", "site_id": "S", "equipment_id": "E"}
    return ServiceRequest(**{**body, "fault_description": "Trips", **changes})


def test_request_rules_per_channel():
    requests.check_request(request(), by_customer=False)
    assert refused_fields(lambda: requests.check_request(request(), by_customer=True)) == ["channel"]
    callback = request(channel=RequestChannel.CALLBACK)
    assert refused_fields(lambda: requests.check_request(callback, by_customer=False)) == ["origin_reference"]
    requests.check_request(request(channel=RequestChannel.PROACTIVE, fault_description=None), by_customer=False)
    both = request(equipment=UnitDetails(model_code="X", serial_number="1", purchase_date=date(2020, 1, 1)))
    assert refused_fields(lambda: requests.check_request(both, by_customer=False)) == ["equipment_id"]
    assert requests.default_priority(RequestChannel.PROACTIVE) is Priority.LOW
    assert requests.default_priority(RequestChannel.PHONE) is Priority.NORMAL


def test_only_an_open_job_can_be_cancelled():
    requested = example("job.requested.v1")
    assert isinstance(requested, JobRequested)
    job = Job(job_id=requested.job_id, requested_at=NOW, requested=requested)
    cancelled, event = job.cancel("fixed it ourselves", None, None, NOW)
    assert cancelled.status is requests.JobStatus.CANCELLED
    assert event.cancelled_by == "Aminah binti Rahman"  # the contact asked
    for done, detail in ((cancelled, "the job is already cancelled"), (job.close(NOW), "the job is closed")):
        with pytest.raises(Refusal) as refused:
            done.cancel("again", None, None, NOW)
        assert refused.value.kind is RefusalKind.CONFLICT and refused.value.detail == detail


def test_only_dated_proactive_visits_of_a_review_are_planned():
    closed = example("job.closed.v1")  # one proactive visit, due 2026-06-01
    [visit] = file_domain.follow_up_visits(closed, "SITE-1")
    assert visit.follow_up_id == f"{closed.job_id}#0"
    assert (visit.due_on, visit.equipment_id, visit.site_id) == (date(2026, 6, 1), "EQ-7781", "SITE-1")
    assert proactive.follow_up_period(visit) == f"EQ-7781:follow-up:{closed.job_id}#0"
    undated = closed.model_copy(update={"follow_ups": [closed.follow_ups[0].model_copy(update={"due_on": None})]})
    assert file_domain.follow_up_visits(undated, "SITE-1") == []
