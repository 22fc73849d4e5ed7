"""Each contact's preferred language, against the real servers: set when the file is opened or a contact
is added or changed, shown in the customer file, and carried in job.requested's contact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compressor_contracts.common import Language
from compressor_kit.refusals import Refusal
from intake_service.customer_file.domain import MAX_CONTACTS, ContactDetails, add_contact, change_contact, open_customer

from .intake_support import CUSTOMER, data_of, fields_of, open_file, phone_request

DANIEL = {"name": "Daniel Lee", "role": "Utilities engineer", "email": "daniel.lee@serimurni.example"}


def main_contact(**changes) -> dict:
    return {**CUSTOMER["contacts"][0], **changes}


async def test_a_new_file_keeps_each_contacts_language_english_unless_said(client, people):
    body = {**CUSTOMER, "contacts": [main_contact(language="ms"), DANIEL]}
    response = await client.post("/customers", json=body, headers=people.reception)
    assert response.status_code == 201, response.text
    assert [c["language"] for c in response.json()["contacts"]] == ["ms", "en"]


async def test_a_contacts_language_is_kept_on_file_and_reaches_job_requested(client, people, events):
    file = await open_file(client, people.reception)  # its main contact did not say: English
    customer = people.customer(file.customer_id)
    contacts = f"/customers/{file.customer_id}/contacts"

    # The customer changes its main contact to Malay in the portal; reception adds a colleague.
    changed = await client.put(f"{contacts}/0", json=main_contact(language="ms"), headers=customer)
    assert changed.status_code == 200, changed.text
    added = await client.post(contacts, json=DANIEL, headers=people.reception)
    assert added.status_code == 201, added.text
    file_now = (await client.get(f"/customers/{file.customer_id}/file", headers=customer)).json()
    assert [(c["name"], c["language"]) for c in file_now["contacts"]] == [
        ("Aminah binti Rahman", "ms"),
        ("Daniel Lee", "en"),
    ]
    assert file_now["contacts"][0]["phone"] == "+60123456789"  # the rest as typed, normalised again
    # A change that does not name the language keeps it.
    renamed = await client.put(f"{contacts}/0", json=main_contact(role="Plant manager"), headers=people.reception)
    assert renamed.json()["contacts"][0]["language"] == "ms"

    callers = {
        "main contact": None,
        "Daniel by e-mail": {"name": "Daniel", "email": "Daniel.Lee@serimurni.example"},
        "someone new": {"name": "Siti Hajar", "phone": "+60 19-876 5432"},
        "Aminah, in English this time": main_contact(language="en"),
    }
    job_of = {}
    for caller, contact in callers.items():
        request = phone_request(file) if contact is None else phone_request(file, contact=contact)
        response = await client.post("/requests", json=request, headers=people.reception)
        assert response.status_code == 201, response.text
        job_of[response.json()["job_id"]] = caller
    requested = {job_of[e.subject]: data_of(e)["contact"] for e in await events.take(len(callers))}
    assert {caller: contact["language"] for caller, contact in requested.items()} == {
        "main contact": "ms",
        "Daniel by e-mail": "en",  # the person on file
        "someone new": "ms",  # unknown to the file: as the company's main contact reads
        "Aminah, in English this time": "en",  # said so
    }
    assert requested["someone new"]["phone"] == "+60198765432"


async def test_contact_changes_are_refused_naming_the_field_and_only_on_the_callers_own_file(client, people):
    file = await open_file(client, people.reception)
    contacts = f"/customers/{file.customer_id}/contacts"
    before = (await client.get(f"/customers/{file.customer_id}", headers=people.reception)).json()

    other = people.customer("CUST-SOMEONE-ELSE")
    assert (await client.put(f"{contacts}/0", json=main_contact(language="ms"), headers=other)).status_code == 403
    assert (await client.post(contacts, json=DANIEL, headers=other)).status_code == 403
    assert (await client.post(contacts, json=DANIEL, headers=people.engineer)).status_code == 403

    missing = await client.put(f"{contacts}/3", json=main_contact(), headers=people.reception)
    assert missing.status_code == 404 and fields_of(missing) == {"position"}
    bad_phone = await client.put(f"{contacts}/0", json=main_contact(phone="12"), headers=people.reception)
    assert bad_phone.status_code == 422 and fields_of(bad_phone) == {"phone"}
    unreachable = await client.post(contacts, json={"name": "Nobody"}, headers=people.reception)
    assert unreachable.status_code == 422 and fields_of(unreachable) == {"phone"}
    french = await client.put(f"{contacts}/0", json=main_contact(language="fr"), headers=people.reception)
    assert french.status_code == 400 and fields_of(french) == {"language"}, french.text  # not one we serve

    assert (await client.get(f"/customers/{file.customer_id}", headers=people.reception)).json() == before


def test_a_file_holds_a_bounded_number_of_contacts_and_a_change_keeps_the_language_unless_said():
    aminah = ContactDetails(name="Aminah", phone="+60123456789", language=Language.MS)
    customer = open_customer("CUST-1", "Seri Murni", [aminah], datetime(2026, 3, 2, tzinfo=UTC))
    renamed = change_contact(customer, 0, ContactDetails(name="Aminah binti Rahman", phone="+60123456789"))
    assert renamed.contacts[0].language is Language.MS and renamed.contacts[0].name == "Aminah binti Rahman"
    for index in range(1, MAX_CONTACTS):
        customer = add_contact(customer, ContactDetails(name=f"Contact {index}", email=f"c{index}@example.com"))
    assert len(customer.contacts) == MAX_CONTACTS and customer.contacts[-1].language is Language.EN
    with pytest.raises(Refusal) as refused:
        add_contact(customer, ContactDetails(name="One too many", email="more@example.com"))
    assert refused.value.field == "contacts"
