"""Engineers over HTTP and the seeded demo engineers, against the real servers."""

import json

from litestar.testing import AsyncTestClient

from compressor_kit.http import create_app
from compressor_kit.testing import eventually
from dispatch_service.app import SERVICE
from dispatch_service.engineers.store import SEED_FILE, load_seed

from .dispatch_support import bearer, engineer_body, snapshot


async def test_dispatchers_create_list_and_update_engineers(client, as_dispatcher, tokens):
    created = await client.post(
        "/engineers",
        json=engineer_body("Nurul Aisyah", regions=("central", "southern"), brands=("Kaeser",), capacity=3),
        headers=as_dispatcher,
    )
    assert created.status_code == 201, created.text
    engineer = created.json()
    assert engineer["engineer_id"] == "ENG-001"
    assert engineer["skills"]["brands"] == ["Kaeser"] and engineer["capacity_per_day"] == 3
    admin = bearer(tokens, "ADM-1", "admin")
    second = await client.post("/engineers", json=engineer_body("Rajesh", regions=("northern",)), headers=admin)
    assert second.json()["engineer_id"] == "ENG-002"

    listed = (await client.get("/engineers?region=southern&limit=1", headers=as_dispatcher)).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Nurul Aisyah"
    by_brand = (await client.get("/engineers?brand=Atlas Copco", headers=as_dispatcher)).json()
    assert [e["engineer_id"] for e in by_brand["items"]] == ["ENG-002"]

    leave = [{"start": "2030-01-07", "end": "2030-01-11", "reason": "annual leave"}]
    calendar = {**engineer["calendar"], "leave": leave}
    updated = await client.patch(
        "/engineers/ENG-001", json={"calendar": calendar, "capacity_per_day": 5}, headers=as_dispatcher
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["calendar"]["leave"][0]["reason"] == "annual leave"
    assert updated.json()["capacity_per_day"] == 5 and updated.json()["name"] == "Nurul Aisyah"

    own = await client.get("/engineers/ENG-001", headers=bearer(tokens, "ENG-001", "engineer"))
    assert own.status_code == 200
    other = await client.get("/engineers/ENG-002", headers=bearer(tokens, "ENG-001", "engineer"))
    assert other.status_code == 403
    refused = await client.post("/engineers", json=engineer_body("X"), headers=bearer(tokens, "E", "engineer"))
    assert refused.status_code == 403


async def test_invalid_engineers_are_refused_with_the_field_named_and_nothing_written(client, as_dispatcher, test_db):
    before = snapshot(test_db)
    good = engineer_body("Valid Name")
    cases = [
        ({**good, "capacity_per_day": 0}, 400, "capacity_per_day"),
        ({**good, "regions": []}, 400, "regions"),
        ({**good, "skills": {**good["skills"], "compressor_types": ["jet_engine"]}}, 400, "skills"),
        ({**good, "calendar": {**good["calendar"], "timezone": "Mars/Olympus"}}, 400, "calendar"),
        (
            {**good, "calendar": {**good["calendar"], "shifts": [{"weekday": 0, "start": "17:00", "end": "08:00"}]}},
            400,
            "calendar",
        ),
        ({**good, "phone": "012-345"}, 400, "phone"),
    ]
    for body, status, field in cases:
        response = await client.post("/engineers", json=body, headers=as_dispatcher)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert any(field in (e["field"] or "") for e in response.json()["errors"]), response.json()
    unknown = await client.patch("/engineers/ENG-404", json={"capacity_per_day": 2}, headers=as_dispatcher)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "engineer_id"
    nulled = await client.patch("/engineers/ENG-404", json={"regions": None}, headers=as_dispatcher)
    assert nulled.status_code in (404, 422)
    assert snapshot(test_db) == before


async def test_the_demo_engineers_are_seeded_idempotently_and_new_ids_follow_them(settings, clock, test_db, tokens):
    seeded = settings.model_copy(update={"dispatch_seed_engineers": True})
    seed = json.loads(SEED_FILE.read_text())
    as_dispatcher = bearer(tokens, "DSP-1", "dispatcher")
    for _ in range(2):  # a restart (or a second replica) seeds again: nothing doubles, edits survive
        async with AsyncTestClient(create_app(SERVICE, seeded, clock=clock), timeout=30) as client:

            async def all_seeded():
                return test_db.engineers.count_documents({}) == len(seed)

            await eventually(all_seeded, timeout=30)
            await client.patch("/engineers/ENG-002", json={"capacity_per_day": 2}, headers=as_dispatcher)
    assert test_db.engineers.count_documents({}) == len(seed) == len(load_seed())
    assert test_db.engineers.find_one({"_id": "ENG-002"})["capacity_per_day"] == 2
    ids = sorted(e["engineer_id"] for e in seed)
    assert ids == sorted(d["_id"] for d in test_db.engineers.find({}))
    async with AsyncTestClient(create_app(SERVICE, seeded, clock=clock), timeout=30) as client:
        created = await client.post("/engineers", json=engineer_body("Newcomer"), headers=as_dispatcher)
        assert created.json()["engineer_id"] == f"ENG-{len(seed) + 1:03d}"


async def test_the_openapi_document_names_every_operation(client):
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values() if "operationId" in op}
    assert {
        "createEngineer",
        "listEngineers",
        "getEngineer",
        "updateEngineer",
        "listUnassignedJobs",
        "listJobs",
        "getJob",
        "assignJobManually",
        "recordPrediagnosis",
        "recordDeparture",
        "runSlaCheck",
    } <= operations
