"""The inspection loop against the real RabbitMQ and MongoDB: a completed work round opens exactly one
inspection, the inspector's readings decide it, failures send the job back and escalate, refusals
leave everything untouched, and a cancelled job stops the inspection."""

import asyncio

from litestar.testing import AsyncTestClient

from compressor_contracts.events.quality import JobInspectionEscalated, JobInspectionFailed, JobInspectionPassed
from compressor_contracts.examples import EQUIPMENT
from compressor_kit.http import create_app
from compressor_kit.testing import ready_messages
from quality_service.app import SERVICE
from quality_service.settings import QualitySettings

from .quality_support import running_quality

HOT = {"discharge_temperature": 104.0}  # above the 100 °C limit of QT-OIS-VSD
NOISY_AND_HOT = {"discharge_temperature": 104.0, "noise": 74.5}


async def test_work_completed_opens_one_inspection_with_the_models_checklist(quality):
    await quality.work_completed("JOB-A", 1)
    inspection = await quality.inspection_for("JOB-A", 1)

    assert inspection["status"] == "open"
    assert inspection["template_id"] == "QT-OIS-VSD"  # the example unit is an AC-GA37VSD with a dryer
    indicators = {i["code"]: i for i in inspection["indicators"]}
    assert set(indicators) == {
        "discharge_pressure",
        "discharge_temperature",
        "vibration",
        "noise",
        "leaks_found",
        "motor_current",
        "oil_carry_over",
        "pressure_dew_point",
    }
    assert (indicators["discharge_temperature"]["max_limit"], indicators["discharge_temperature"]["unit"]) == (
        100,
        "°C",
    )
    assert indicators["motor_current"]["method"] and indicators["motor_current"]["corrective_action"]
    assert inspection["rework_of"] == []
    assert inspection["equipment"]["serial_number"] == EQUIPMENT.serial_number


async def test_a_unit_without_dryer_of_an_unlisted_model_gets_its_types_generic_checklist(quality):
    unit = EQUIPMENT.model_copy(update={"model_code": "KA-SM15", "dryer_fitted": False})
    await quality.work_completed("JOB-G", 1, equipment=unit)
    inspection = await quality.inspection_for("JOB-G", 1)
    assert inspection["template_id"] == "QT-OIS-STD"
    assert "pressure_dew_point" not in {i["code"] for i in inspection["indicators"]}


async def test_a_redelivered_work_completed_opens_one_inspection_not_two(quality):
    first = await quality.work_completed("JOB-R", 1)
    await quality.publish(first)  # the same event redelivered
    await quality.work_completed("JOB-R", 1)  # the same round announced again under a new event id
    await quality.handled(2)  # two distinct events went through the inbox

    assert quality.db.inspections.count_documents({"job_id": "JOB-R"}) == 1
    assert quality.db.inspections.find_one({"job_id": "JOB-R"})["opened_by_event"] == first.id


async def test_a_failed_round_then_a_passed_rework_publish_the_right_events_once(quality):
    await quality.work_completed("JOB-F", 1, correlation_id="flow-F")
    round1 = await quality.inspection_for("JOB-F", 1)

    response = await quality.record(round1, NOISY_AND_HOT, notes="Outlet runs hot, canopy panel loose")
    assert response.status_code == 200, response.text
    decided = response.json()
    assert decided["status"] == "failed"
    assert sorted(decided["failed_indicators"]) == ["discharge_temperature", "noise"]
    assert decided["inspector"] == {"user_id": "u-inspector-1", "name": "Rajesh Kumar", "role": "inspector"}

    [failed] = await quality.events(expect=1)
    assert isinstance(failed.data, JobInspectionFailed)
    assert (failed.subject, failed.correlationid, failed.data.round) == ("JOB-F", "flow-F", 1)
    hot = {i.code: i for i in failed.data.failed_indicators}
    assert set(hot) == {"discharge_temperature", "noise"}
    assert (hot["discharge_temperature"].value, hot["discharge_temperature"].max_limit) == (104.0, 100.0)
    assert "thermostatic valve" in hot["discharge_temperature"].corrective_action
    # For a customer who reads Malay: the template's Malay name and corrective action.
    assert hot["discharge_temperature"].name_ms == "Suhu keluaran elemen, beban penuh"
    assert hot["discharge_temperature"].corrective_action_ms.startswith("Periksa injap termostatik")
    assert all(i.name_ms and i.corrective_action_ms is None for i in failed.data.passed_indicators)
    assert len(failed.data.passed_indicators) == 6

    # Maintenance reworks and completes round 2: the new inspection shows what had to be corrected.
    await quality.work_completed("JOB-F", 2, correlation_id="flow-F")
    round2 = await quality.inspection_for("JOB-F", 2)
    assert round2["inspection_id"] != round1["inspection_id"]
    assert {i["code"] for i in round2["rework_of"]} == {"discharge_temperature", "noise"}

    response = await quality.record(round2, {"discharge_temperature": 91.0})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "passed"

    [passed] = await quality.events(expect=1)
    assert isinstance(passed.data, JobInspectionPassed)
    assert (passed.data.round, passed.data.template_id, passed.correlationid) == (2, "QT-OIS-VSD", "flow-F")
    assert len(passed.data.indicators) == 8 and all(i.passed and i.name_ms for i in passed.data.indicators)

    assert quality.db.outbox.count_documents({"subject": "JOB-F"}) == 2  # once each, no more to come
    assert [i["status"] for i in quality.db.inspections.find({"job_id": "JOB-F"}).sort("round")] == [
        "failed",
        "passed",
    ]


async def test_repeated_failures_alert_management_from_the_configured_round_on(test_settings, test_db, tokens):
    settings = QualitySettings(**test_settings.model_dump(), quality_escalation_failed_rounds=2)
    async with running_quality(settings, test_db, tokens) as quality:
        kinds = []
        for round_ in (1, 2, 3):
            await quality.work_completed("JOB-E", round_)
            inspection = await quality.inspection_for("JOB-E", round_)
            response = await quality.record(inspection, HOT)
            assert response.status_code == 200, response.text
            assert response.json()["escalated"] is (round_ >= 2)
            expected = 1 if round_ == 1 else 2
            kinds.append([type(e.data) for e in await quality.events(expect=expected)])

        assert kinds == [
            [JobInspectionFailed],
            [JobInspectionFailed, JobInspectionEscalated],
            [JobInspectionFailed, JobInspectionEscalated],
        ]
        escalated = quality.db.outbox.find({"routing_key": "job.inspection_escalated.v1"}).sort("created_at")
        payloads = [row["body"] for row in escalated]
        assert len(payloads) == 2
        assert '"failed_rounds":2' in payloads[0] and '"threshold":2' in payloads[0]
        assert '"failed_rounds":3' in payloads[1]

        await quality.work_completed("JOB-E", 4)
        response = await quality.record(await quality.inspection_for("JOB-E", 4))
        assert response.json()["status"] == "passed" and response.json()["escalated"] is False
        [passed] = await quality.events(expect=1)
        assert isinstance(passed.data, JobInspectionPassed)


async def test_escalation_uses_three_failed_rounds_by_default(quality):
    for round_ in (1, 2, 3):
        await quality.work_completed("JOB-D", round_)
        response = await quality.record(await quality.inspection_for("JOB-D", round_), HOT)
        assert response.json()["escalated"] is (round_ == 3)
    events = await quality.events(expect=4)
    assert [e.data.name for e in events] == ["job.inspection_failed"] * 3 + ["job.inspection_escalated"]
    assert (events[-1].data.failed_rounds, events[-1].data.threshold) == (3, 3)
    assert "Element outlet temperature, full load: 104 °C (limit 70-100 °C)" in events[-1].data.detail


def snapshot(quality, job_id):
    return list(quality.db.inspections.find({"job_id": job_id})), quality.outbox_rows()


async def test_invalid_readings_are_refused_naming_the_field_and_change_nothing(quality):
    await quality.work_completed("JOB-V", 1)
    inspection = await quality.inspection_for("JOB-V", 1)
    before = snapshot(quality, "JOB-V")

    async def refused(measurements, status=422):
        response = await quality.client.post(
            f"/inspections/{inspection['inspection_id']}/results",
            json={"measurements": measurements},
            headers=quality.auth,
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        return {e["field"] for e in response.json().get("errors", [])}

    complete = [
        {
            "code": i["code"],
            "value": i["max_limit"] if i["max_limit"] is not None else i["min_limit"],
            "unit": i["unit"],
        }
        for i in inspection["indicators"]
    ]
    missing = [m for m in complete if m["code"] != "vibration"]
    assert await refused(missing) == {"measurements.vibration"}
    assert len(await refused([])) == 8
    assert await refused([*complete, {"code": "humidity", "value": 40, "unit": "%"}]) == {"measurements.8.code"}
    assert await refused([*complete, complete[0]]) == {"measurements.8.code"}
    wrong_unit = [{**m, "unit": "psi"} if m["code"] == "discharge_pressure" else m for m in complete]
    assert await refused(wrong_unit) == {"measurements.0.unit"}
    # Malformed bodies are refused by the schema (400), still naming the field.
    assert await refused([*complete[:7], {"code": "noise", "value": 60}], status=400) == {"measurements.7.unit"}
    assert await refused([{**complete[0], "value": "hot"}], status=400) == {"measurements.0.value"}

    assert snapshot(quality, "JOB-V") == before  # nothing written, nothing put in the outbox

    # The first event on the broker is the one caused by the first valid recording: nothing before it.
    response = await quality.record(inspection, HOT)
    assert response.status_code == 200
    [first] = await quality.events(expect=1)
    assert isinstance(first.data, JobInspectionFailed)


async def test_recording_a_decided_or_unknown_inspection_or_without_the_role_is_refused(quality, tokens):
    await quality.work_completed("JOB-X", 1)
    inspection = await quality.inspection_for("JOB-X", 1)
    assert (await quality.record(inspection)).status_code == 200
    [passed] = await quality.events(expect=1)
    before = snapshot(quality, "JOB-X")

    again = await quality.record(inspection, HOT)
    assert again.status_code == 409, again.text
    assert again.json()["errors"][0]["field"] == "inspection_id"
    unknown = await quality.record({**inspection, "inspection_id": "INS-NOPE"})
    assert unknown.status_code == 404
    engineer = {"Authorization": f"Bearer {tokens.mint('ENG-014', ['engineer'])}"}
    for method, path in [
        ("GET", "/inspections"),
        ("GET", f"/inspections/{inspection['inspection_id']}"),
        ("POST", f"/inspections/{inspection['inspection_id']}/results"),
        ("GET", "/inspection-templates"),
    ]:
        response = await quality.client.request(method, path, headers=engineer, json={"measurements": []})
        assert response.status_code == 403, (path, response.text)

    assert snapshot(quality, "JOB-X") == before
    assert isinstance(passed.data, JobInspectionPassed)


async def test_two_inspectors_recording_at_once_decide_it_once(quality):
    await quality.work_completed("JOB-C", 1)
    inspection = await quality.inspection_for("JOB-C", 1)
    responses = await asyncio.gather(quality.record(inspection, HOT), quality.record(inspection))
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert quality.db.outbox.count_documents({"subject": "JOB-C"}) == 1


async def test_a_cancelled_job_closes_its_open_inspection_and_opens_no_more(quality):
    await quality.work_completed("JOB-K", 1)
    inspection = await quality.inspection_for("JOB-K", 1)
    await quality.cancelled("JOB-K")
    await quality.handled(2)

    closed = (await quality.client.get(f"/inspections/{inspection['inspection_id']}", headers=quality.auth)).json()
    assert closed["status"] == "cancelled" and closed["cancel_reason"]
    response = await quality.record(inspection)
    assert response.status_code == 409

    await quality.work_completed("JOB-K", 2)  # a round finished before the news reached maintenance
    await quality.handled(3)
    assert quality.db.inspections.count_documents({"job_id": "JOB-K"}) == 1
    assert quality.outbox_rows() == 0


async def test_the_open_inspections_list_is_paginated_and_filtered(quality):
    for job in ("JOB-1", "JOB-2", "JOB-3"):
        await quality.work_completed(job, 1)
    await quality.handled(3)
    decided = await quality.inspection_for("JOB-2", 1)
    assert (await quality.record(decided)).status_code == 200

    page = (await quality.client.get("/inspections?status=open&limit=1", headers=quality.auth)).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 0, 1)
    second = (await quality.client.get("/inspections?status=open&limit=1&offset=1", headers=quality.auth)).json()
    assert {page["items"][0]["job_id"], second["items"][0]["job_id"]} == {"JOB-1", "JOB-3"}
    passed = (await quality.client.get("/inspections?status=passed", headers=quality.auth)).json()
    assert [i["job_id"] for i in passed["items"]] == ["JOB-2"]
    assert passed["items"][0]["equipment_model"] == "Atlas Copco GA 37 VSD+"
    bad = await quality.client.get("/inspections?status=maybe", headers=quality.auth)
    assert bad.status_code == 400

    templates = (await quality.client.get("/inspection-templates", headers=quality.auth)).json()
    assert "QT-OIS-VSD" in {t["template_id"] for t in templates}
    missing = await quality.client.get("/inspection-templates/QT-NOPE", headers=quality.auth)
    assert missing.status_code == 404


async def test_two_failed_rounds_and_a_pass_carry_each_rounds_failures_into_the_next_rework(quality):
    failures = {1: NOISY_AND_HOT, 2: {"vibration": 5.2}, 3: {}}
    seen = []
    for round_, overrides in failures.items():
        await quality.work_completed("JOB-3R", round_, correlation_id="flow-3R")
        inspection = await quality.inspection_for("JOB-3R", round_)
        previous = failures.get(round_ - 1, {})
        assert {i["code"] for i in inspection["rework_of"]} == set(previous)
        assert all(i["corrective_action"] for i in inspection["rework_of"])
        response = await quality.record(inspection, overrides)
        assert response.status_code == 200, response.text
        [event] = await quality.events(expect=1)
        seen.append((event.data.name, event.data.round, event.correlationid))
        if overrides:
            assert {i.code for i in event.data.failed_indicators} == set(overrides)

    assert seen == [
        ("job.inspection_failed", 1, "flow-3R"),
        ("job.inspection_failed", 2, "flow-3R"),
        ("job.inspection_passed", 3, "flow-3R"),
    ]
    assert quality.db.outbox.count_documents({"subject": "JOB-3R"}) == 3  # below the threshold: no escalation


async def test_two_replicas_receiving_the_same_round_several_times_open_one_inspection(quality, test_settings):
    second_replica = create_app(SERVICE, test_settings)
    async with AsyncTestClient(second_replica):
        events = [await quality.work_completed("JOB-2R", 1) for _ in range(4)]
        for event in events:
            await quality.publish(event)  # and each one redelivered
        await quality.handled(4)
    assert quality.db.inspections.count_documents({"job_id": "JOB-2R"}) == 1
    assert await ready_messages(quality.amqp_url, "quality.dead-letters") == 0  # no conflict ended as a failure
