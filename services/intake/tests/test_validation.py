"""Bad input gets problem+json naming the field, and nothing is written or published."""

from __future__ import annotations

import pytest

from .intake_support import CUSTOMER, SITE, fields_of, open_file, phone_request


def snapshot(db) -> dict[str, int]:
    return {name: db[name].count_documents({}) for name in ("customers", "sites", "equipment", "jobs", "outbox")}


async def prove_nothing_was_published(client, people, events, file) -> None:
    """A request after the refused one is the first event on the broker: the refused one published nothing."""
    marker = await client.post("/requests", json=phone_request(file), headers=people.reception)
    [first] = await events.take(1)
    assert first.subject == marker.json()["job_id"]


REQUEST_CASES = {
    "bad phone": ({"contact": {"name": "Ravi", "phone": "12345"}}, "contact.phone"),
    "bad e-mail": ({"contact": {"name": "Ravi", "email": "ravi@@example"}}, "contact.email"),
    "no way to reach the contact": ({"contact": {"name": "Ravi"}}, "contact.phone"),
    "purchase date in the future": (
        {
            "equipment_id": None,
            "equipment": {"model_code": "AC-GA11P", "serial_number": "X1", "purchase_date": "2026-03-03"},
        },
        "equipment.purchase_date",
    ),
    "unknown equipment model": (
        {
            "equipment_id": None,
            "equipment": {"model_code": "AC-NOPE", "serial_number": "X1", "purchase_date": "2025-01-01"},
        },
        "equipment.model_code",
    ),
    "unknown customer": ({"customer_id": "CUST-UNKNOWN"}, "customer_id"),
    "unknown site": ({"site_id": "SITE-UNKNOWN"}, "site_id"),
    "unknown equipment": ({"equipment_id": "EQ-UNKNOWN"}, "equipment_id"),
    "no fault description": ({"fault_description": None}, "fault_description"),
    "call-back without its record": ({"channel": "callback"}, "origin_reference"),
}


@pytest.mark.parametrize("case", REQUEST_CASES)
async def test_an_invalid_request_is_refused_naming_the_field_and_changes_nothing(
    client, people, events, test_db, case
):
    file = await open_file(client, people.reception)
    changes, field = REQUEST_CASES[case]
    before = snapshot(test_db)
    response = await client.post("/requests", json=phone_request(file, **changes), headers=people.reception)
    assert response.status_code == 422, response.text
    assert field in fields_of(response)
    assert response.json()["status"] == 422
    assert snapshot(test_db) == before
    await prove_nothing_was_published(client, people, events, file)


FILE_CASES = {
    "bad phone": ("customer", {"contacts": [{"name": "A", "phone": "+0 12"}]}, "contacts[0].phone"),
    "bad e-mail": ("customer", {"contacts": [{"name": "A", "email": "not-an-address"}]}, "contacts[0].email"),
    "lower-case country": ("site", {"country": "my"}, "country"),
    "purchase date in the future": ("equipment", {"purchase_date": "2027-01-01"}, "purchase_date"),
    "unknown equipment model": ("equipment", {"model_code": "XX-1"}, "model_code"),
    "unknown site": ("equipment", {"site_id": "SITE-UNKNOWN"}, "site_id"),
    "last service before purchase": ("equipment", {"last_service_on": "2020-01-01"}, "last_service_on"),
}


@pytest.mark.parametrize("case", FILE_CASES)
async def test_an_invalid_customer_file_entry_is_refused_naming_the_field(client, people, test_db, case):
    file = await open_file(client, people.reception)
    what, changes, field = FILE_CASES[case]
    before = snapshot(test_db)
    if what == "customer":
        response = await client.post("/customers", json={**CUSTOMER, **changes}, headers=people.reception)
    elif what == "site":
        response = await client.post(
            f"/customers/{file.customer_id}/sites", json={**SITE, **changes}, headers=people.reception
        )
    else:
        body = {
            "site_id": file.site_id,
            "model_code": "AC-GA11P",
            "serial_number": "N-1",
            "purchase_date": "2025-01-01",
        }
        response = await client.post(
            f"/customers/{file.customer_id}/equipment", json={**body, **changes}, headers=people.reception
        )
    assert response.status_code == 422, response.text
    assert field in fields_of(response)
    assert snapshot(test_db) == before


async def test_unknown_ids_in_the_path_are_404_and_the_same_serial_twice_is_409(client, people, test_db):
    file = await open_file(client, people.reception)
    assert (await client.get("/customers/CUST-NONE/file", headers=people.reception)).status_code == 404
    assert (await client.post("/customers/CUST-NONE/sites", json=SITE, headers=people.reception)).status_code == 404
    assert (await client.get("/equipment/EQ-NONE", headers=people.reception)).status_code == 404
    assert (
        await client.post("/requests/JOB-NONE/cancel", json={"reason": "x"}, headers=people.reception)
    ).status_code == 404
    again = await client.post(
        f"/customers/{file.customer_id}/equipment",
        json={
            "site_id": file.site_id,
            "model_code": "AC-GA37VSD",
            "serial_number": "API123456",
            "purchase_date": "2021-06-14",
        },
        headers=people.reception,
    )
    assert again.status_code == 409 and fields_of(again) == {"serial_number"}
    assert test_db.equipment.count_documents({}) == 1
