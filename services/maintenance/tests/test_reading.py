"""The read side: work-order lists per engineer, procedures and parts with stock, OpenAPI."""


async def test_engineers_see_their_own_work_orders_and_the_office_sees_all(service):
    await service.open_work_order()
    client, job = service.client, service.job_id
    mine = (await client.get("/work-orders", headers=service.engineer)).json()
    assert [o["job_id"] for o in mine["items"]] == [job] and mine["total"] == 1
    assert (await client.get("/work-orders", headers=service.auth("ENG-999"))).json()["total"] == 0
    office = await client.get("/work-orders?status=open&limit=10", headers=service.auth("d1", "dispatcher"))
    assert office.json()["items"][0]["status"] == "open"
    service.refused(await client.get(f"/work-orders/{job}", headers=service.auth("ENG-999")), 403)
    service.refused(await client.get(f"/work-orders/{job}", headers=service.auth("CUST-1", "customer")), 403)
    assert (await client.get(f"/work-orders/{job}", headers=service.customer)).json()["customer"]["customer_id"]
    service.refused(await client.get("/work-orders/JOB-NONE", headers=service.engineer), 404, "job_id")


async def test_procedures_and_parts_with_stock_levels(service):
    client = service.client
    for_model = (await client.get("/procedures?model_code=AC-GA37VSD", headers=service.engineer)).json()
    ids = [p["procedure_id"] for p in for_model["items"]]
    assert "PROC-GA-VSD-OILCIRCUIT" in ids and "PROC-KA-SK-SERVICE" not in ids
    piston = (await client.get("/procedures?compressor_type=piston", headers=service.engineer)).json()
    assert [p["procedure_id"] for p in piston["items"]] == ["PROC-IR2545-VALVES", "PROC-PISTON-GENERIC-REPAIR"]
    one = (await client.get("/procedures/PROC-ZR-SERVICE", headers=service.engineer)).json()
    assert one["steps"][0]["safety"] is True and one["parts"][0]["part_number"] == "2906-0563-00"
    service.refused(await client.get("/procedures/NOPE", headers=service.engineer), 404)
    parts = (await client.get("/parts?limit=5", headers=service.engineer)).json()
    assert len(parts["items"]) == 5 and parts["total"] > 5
    part = (await client.get("/parts/1622-3600-00", headers=service.engineer)).json()
    assert part == {
        "part_number": "1622-3600-00",
        "description": "Thermostatic valve kit (GA 30-37 VSD+)",
        "unit": "pcs",
        "on_hand": 4,
        "reserved": 0,
        "available": 4,
    }
    service.refused(
        await client.post("/parts/1622-3600-00/receipts", json={"quantity": 1}, headers=service.engineer), 403
    )
    schema = (await client.get("/schema/openapi.json")).json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert all(op.get("operationId") and op.get("security") for op in operations)
