"""Helpers shared by intake's tests: a customer file to work with, request bodies, problem checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from compressor_contracts import CloudEvent, new_event
from compressor_contracts.examples import example
from compressor_kit.testing.events import EventTap


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CUSTOMER = {
    "name": "Seri Murni Foods Sdn Bhd",
    "contacts": [
        {
            "name": "Aminah binti Rahman",
            "role": "Plant maintenance lead",
            "phone": "+60 12-345 6789",
            "email": "aminah.rahman@serimurni.example",
        }
    ],
}
SITE = {
    "name": "Shah Alam plant 2",
    "address": "Lot 12, Jalan Perusahaan 4, Seksyen 15",
    "city": "Shah Alam",
    "postal_code": "40200",
    "country": "MY",
    "region": "central",
}


@dataclass
class CustomerFile:
    customer_id: str
    site_id: str
    equipment_id: str


async def open_file(client, headers, *, serial: str = "API123456", **equipment) -> CustomerFile:
    """A customer with one site and one GA 37 VSD+ (bought 2021, serviced 2025-12-01 at 22,000 h)."""
    response = await client.post("/customers", json=CUSTOMER, headers=headers)
    assert response.status_code == 201, response.text
    customer_id = response.json()["customer_id"]
    response = await client.post(f"/customers/{customer_id}/sites", json=SITE, headers=headers)
    assert response.status_code == 201, response.text
    site_id = response.json()["site_id"]
    body = {
        "site_id": site_id,
        "model_code": "AC-GA37VSD",
        "serial_number": serial,
        "purchase_date": "2021-06-14",
        "running_hours": 23_410,
        "last_service_on": "2025-12-01",
        "last_service_hours": 22_000,
        "dryer_fitted": True,
        **equipment,
    }
    response = await client.post(f"/customers/{customer_id}/equipment", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return CustomerFile(customer_id, site_id, response.json()["equipment_id"])


def phone_request(file: CustomerFile, **changes) -> dict:
    return {
        "channel": "phone",
        "priority": "high",
        "customer_id": file.customer_id,
        "site_id": file.site_id,
        "equipment_id": file.equipment_id,
        "fault_description": "Trips on high discharge temperature after about 40 minutes of running.",
        **changes,
    }


def problem(response) -> dict:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.json()


def fields_of(response) -> set[str]:
    return {error["field"] for error in problem(response).get("errors", [])}


def data_of(event: CloudEvent) -> dict:
    return json.loads(event.model_dump_json())["data"]


def job_closed(job_id: str, customer_id: str, equipment_id: str, follow_ups: list | None = None) -> CloudEvent:
    """The example close (service on 2026-03-03 at 23,436 h) for this job and unit; no follow-ups
    unless given."""
    closed = example("job.closed.v1")
    outcome = closed.outcome.model_copy(
        update={
            "customer_id": customer_id,
            "equipment_id": equipment_id,
            "service_date": date(2026, 3, 3),
            "running_hours": 23_436,
        }
    )
    data = closed.model_copy(update={"job_id": job_id, "outcome": outcome, "follow_ups": follow_ups or []})
    return new_event(data, source_service="feedback", subject=job_id)


async def events_until(tap: EventTap, routing_key: str, subject: str) -> list[CloudEvent[Any]]:
    """Every event not taken yet, once the first `routing_key` event about `subject` arrived: a marker
    that proves everything published before it has arrived (the relay publishes in commit order)."""
    await tap.wait_for(routing_key, subject=subject)
    return await tap.rest()
