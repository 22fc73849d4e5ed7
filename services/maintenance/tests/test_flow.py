"""One job through phases 3-5 and two rework rounds, against the real RabbitMQ, MongoDB and S3."""

import httpx

from compressor_contracts.examples import ROUND1

from .signing import signature


async def diagnose(service, photo_keys=()) -> None:
    response = await service.client.post(
        f"/work-orders/{service.job_id}/diagnosis",
        json={
            "measurements": [
                {"name": "Discharge temperature at trip", "value": 110, "unit": "°C", "instrument": "Controller log"},
                {"name": "Oil cooler outlet temperature", "value": 96, "unit": "°C", "instrument": "Fluke 62 MAX"},
            ],
            "root_cause": "Thermostatic valve stuck open: oil bypasses the cooler.",
            "scope": "Oil circuit only; element and motor undamaged.",
            "failure_category": "cooling",
            "running_hours": 23431,
            "photo_keys": list(photo_keys),
        },
        headers=service.engineer,
    )
    assert response.status_code == 200, response.text


async def do_all_steps(service) -> int:
    order = (await service.client.get(f"/work-orders/{service.job_id}", headers=service.engineer)).json()
    steps = order["rounds"][-1]["steps"]
    for step in steps:
        service.tick()
        response = await service.client.post(
            f"/work-orders/{service.job_id}/steps/{step['sequence']}/complete", headers=service.engineer
        )
        assert response.status_code == 200, response.text
    return len(steps)


async def test_a_job_goes_from_assignment_through_two_failed_inspections_to_a_third_round(service):
    client, job = service.client, service.job_id
    await service.open_work_order()

    # Phase 3: arrival, a photo uploaded through a presigned URL, the diagnosis.
    assert (await client.post(f"/work-orders/{job}/arrival", headers=service.engineer)).status_code == 200
    upload = await client.post(
        f"/work-orders/{job}/photos",
        json={"file_name": "thermostatic valve.jpg", "content_type": "image/jpeg"},
        headers=service.engineer,
    )
    assert upload.status_code == 201, upload.text
    photo = b"\xff\xd8\xff\xe0 a photo of a stuck thermostatic valve"
    form = upload.json()
    assert form["method"] == "POST"
    posted = httpx.post(form["upload_url"], data=form["fields"], files={"file": ("valve.jpg", photo, "image/jpeg")})
    assert posted.status_code == 204, posted.text
    key = upload.json()["photo_key"]
    await diagnose(service, [key])
    [listed] = (await client.get(f"/work-orders/{job}/photos", headers=service.customer)).json()
    assert listed["photo_key"] == key
    assert httpx.get(listed["download_url"]).content == photo  # read back, linked to the diagnosis

    # Phase 4: procedures for the model, plan, rejection, revision, approval.
    procedures = (await client.get(f"/work-orders/{job}/procedures", headers=service.engineer)).json()
    assert procedures[0]["procedure_id"] == "PROC-GA-VSD-OILCIRCUIT"
    proposed = await client.post(
        f"/work-orders/{job}/plans", json={"procedure_id": "PROC-GA-VSD-OILCIRCUIT"}, headers=service.engineer
    )
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["status"] == "plan_proposed"
    rejected = await client.post(
        f"/work-orders/{job}/plans/1/reject",
        json={"comments": "Clean the oil cooler as well while it is open."},
        headers=service.customer,
    )
    assert rejected.status_code == 200, rejected.text
    steps = [{"procedure_step": s} for s in ("GA-S01", "GA-S02", "GA-S03", "GA-M07", "GA-M12")]
    steps += [{"description": "Clean the oil cooler with cleaning agent", "standard_minutes": 40}]
    steps += [{"procedure_step": "GA-M20"}]
    parts = [
        {"part_number": "1622-3600-00", "quantity": 1},
        {"part_number": "1625-4800-00", "quantity": 1},
        {"part_number": "2901-0522-00", "quantity": 10},
        {"part_number": "2901-1000-05", "quantity": 2},
    ]
    revised = await client.post(
        f"/work-orders/{job}/plans",
        json={"procedure_id": "PROC-GA-VSD-OILCIRCUIT", "steps": steps, "parts": parts},
        headers=service.engineer,
    )
    assert revised.status_code == 201, revised.text
    assert revised.json()["plans"][-1]["revision"] == 2
    before = service.stock("1622-3600-00")
    approved = await client.post(
        f"/work-orders/{job}/plans/2/approve",
        json={"comments": "Go ahead.", "signature": signature()},
        headers=service.customer,
    )
    assert approved.status_code == 200, approved.text
    assert service.stock("1622-3600-00") == {"on_hand": before["on_hand"], "reserved": before["reserved"] + 1}

    # Phase 5, round 1.
    assert (await client.post(f"/work-orders/{job}/work/start", headers=service.engineer)).status_code == 200
    assert await do_all_steps(service) == 7
    completed = await client.post(
        f"/work-orders/{job}/work/complete",
        json={
            "parts_used": [
                {"part_number": "1622-3600-00", "quantity": 1},
                {"part_number": "1625-4800-00", "quantity": 1},
                {"part_number": "2901-0522-00", "quantity": 9},
                {"part_number": "2901-1000-05", "quantity": 2},
            ],
            "labour_hours": 3.5,
            "repair_method": "Replaced the thermostatic valve element and oil filter, changed the oil.",
        },
        headers=service.engineer,
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "awaiting_inspection"
    # Consumed exactly what was used; the unused litre of oil is back in stock.
    assert service.stock("1622-3600-00") == {"on_hand": before["on_hand"] - 1, "reserved": before["reserved"]}
    assert service.stock("2901-0522-00") == {"on_hand": 200 - 9, "reserved": 0}

    # Rework: each failed inspection reopens the work order with the failed indicators as the work.
    for round_ in (2, 3):
        failed = [i for i in ROUND1 if not i.passed]
        event = service.inspection_failed(round_ - 1, failed)
        await service.publish(event, event)  # redelivered: one new round, not two
        order = await service.wait_for_status("rework")
        assert [r["round"] for r in order["rounds"]] == list(range(1, round_ + 1))
        started = await client.post(f"/work-orders/{job}/work/start", headers=service.engineer)
        assert started.status_code == 200, started.text
        work = started.json()["rounds"][-1]
        assert work["rework_indicators"][0]["code"] == "discharge_temperature"
        assert any("Discharge temperature" in s["description"] for s in work["steps"])
        assert [s["safety"] for s in work["steps"][:3]] == [True, True, True]
        count = await do_all_steps(service)
        done = await client.post(
            f"/work-orders/{job}/work/complete",
            json={
                "parts_used": [
                    {"part_number": "2901-1000-05", "quantity": 1, "in_plan": True},
                    {
                        "part_number": "GEN-ORING-KIT-M",
                        "quantity": 1,
                        "in_plan": False,
                        "reason": "Cooler connection O-ring found cracked.",
                    },
                ],
                "labour_hours": 1.5,
                "repair_method": "Cleaned the oil cooler again and replaced a cracked O-ring.",
            },
            headers=service.engineer,
        )
        assert done.status_code == 200, done.text
        assert count == 5  # three safety steps, one corrective step, the test run

    expected = ["engineer_arrived", "diagnosed", "plan_proposed", "plan_rejected", "plan_proposed", "plan_approved"]
    expected += ["signed", "work_started", *["progress_reported"] * 7, "work_completed"]
    expected += 2 * ["work_started", *["progress_reported"] * 5, "work_completed"]
    events = await service.published(len(expected))
    assert service.types() == expected
    assert all(e.correlationid == service.requested.id and e.subject == job for e in events)
    started = [e.data for e in events if e.routing_key == "job.work_started.v1"]
    assert [(s.round, len(s.rework_indicators)) for s in started] == [(1, 0), (2, 1), (3, 1)]
    completions = [e.data for e in events if e.routing_key == "job.work_completed.v1"]
    assert [c.round for c in completions] == [1, 2, 3]
    assert completions[1].parts_used[1].in_plan is False
    assert completions[0].equipment.model_code == "AC-GA37VSD"
    progress = [e.data for e in events if e.routing_key == "job.progress_reported.v1"]
    assert progress[0].message.startswith("Step 1 of 7")
    # In Malay too: the procedure's steps carry their Malay text; the step the engineer added has none
    # and is named as written inside the Malay sentence.
    plan = [e.data for e in events if e.routing_key == "job.plan_proposed.v1"][-1]
    assert plan.steps[0].description_ms.startswith("Asingkan bekalan elektrik")
    assert plan.steps[5].description_ms is None
    assert progress[0].message_ms.startswith("Langkah 1 daripada 7 kerja pembaikan telah selesai: Asingkan bekalan")
    assert progress[5].message_ms.startswith("Langkah 6 daripada 7 kerja pembaikan telah selesai: Clean the oil cooler")
    assert progress[7].message_ms.startswith("Langkah 1 daripada 5 bagi pusingan 2 (kerja semula) telah selesai:")
    assert next(e.data for e in events if e.routing_key == "job.diagnosed.v1").photo_keys == [key]
    assert service.stock("2901-1000-05") == {"on_hand": 20 - 2 - 1 - 1, "reserved": 0}
    assert service.stock("GEN-ORING-KIT-M") == {"on_hand": 10 - 2, "reserved": 0}
