"""The machine raises its own job: a compressor's controller, behind its site gateway, reports readings
over MQTT (a real Mosquitto, the gateway's own credentials); they cross service level A; telemetry
publishes the level coming due, intake raises exactly one proactive request carrying the readings, and
that job runs through all nine phases with the services as separate processes."""

from __future__ import annotations

import httpx
import pytest

from compressor_kit.testing.mail import mail_server
from compressor_kit.testing.mosquitto import mosquitto_broker, open_session
from compressor_kit.testing.watcher import EventWatcher
from demo.flow import Office, machine_telemetry, run_job
from demo.stack import Stack

pytestmark = pytest.mark.slow

GATEWAY, GATEWAY_PASSWORD = "GW-SHAHALAM-2", "gateway-password"
TELEMETRY_PASSWORD = "telemetry-password"


async def test_readings_crossing_service_level_a_raise_one_proactive_job_that_runs_through_nine_phases(
    test_settings, database_prefix, tmp_path
):
    amqp_url = test_settings.rabbitmq_url.get_secret_value()
    users = {"telemetry": TELEMETRY_PASSWORD, GATEWAY: GATEWAY_PASSWORD}
    with mail_server() as (_, smtp_port), mosquitto_broker(users) as mqtt_port:
        mqtt_url = f"mqtt://127.0.0.1:{mqtt_port}"
        # Telemetry's session exists before it first connects, as in service.
        await open_session(mqtt_port, "telemetry", TELEMETRY_PASSWORD, "gateways/+/readings")
        stack = Stack(
            rabbitmq_url=amqp_url,
            database_prefix=database_prefix,
            bucket_prefix=test_settings.s3_bucket_prefix,
            log_dir=tmp_path / "logs",
            replicas=1,
            env={
                "SMTP_PORT": str(smtp_port),
                "REPORT_PUBLISH_INTERVAL_SECONDS": "0.5",
                "DELIVERY_INTERVAL_SECONDS": "0.5",
                "MQTT_URL": mqtt_url,
                "MQTT_USERNAME": "telemetry",
                "MQTT_PASSWORD": TELEMETRY_PASSWORD,
            },
        )
        async with EventWatcher(amqp_url) as watcher:
            with stack:
                async with httpx.AsyncClient(timeout=30) as client:
                    office = Office(stack.urls(), client, test_settings)
                    await office.stock_parts_for(1)
                    result = await run_job(office, request=machine_telemetry(mqtt_url, GATEWAY, GATEWAY_PASSWORD))
                    job = result.job_id

                    await watcher.wait_for(job, "customer_file.updated.v1")
                    requested = await office.manager.get("intake", f"/requests/{job}")
                    assert requested["channel"] == "proactive"
                    assert requested["origin_reference"].startswith(f"telemetry:{result.equipment_id}:A:")
                    # One request for the due point, though every later reading crossed it too.
                    page = await office.manager.get(
                        "intake", "/requests", params={"customer_id": result.customer_id, "status": "all"}
                    )
                    assert [item["job_id"] for item in page["items"]] == [job]

                    [due] = [
                        e
                        for e in watcher.of_job(result.equipment_id)
                        if e.data.routing_key() == "equipment.service_came_due.v1"
                    ]
                    assert due.data.service_level == "A"
                    assert due.data.due_at_hours == 26_000
                    # Raised by the fourth reading (216 h left, 13.5 days at 16 h a day: within the 14-day
                    # lead), with the readings so far.
                    assert [r.running_hours for r in due.data.recent_readings] == [25_688, 25_720, 25_752, 25_784]

    assert not watcher.invalid
    assert result.record, "the job's record (phase 7)"
    assert result.survey_answer, "the customer's answer (phase 8)"
    assert result.review, "the internal review (phase 9)"
    assert result.customer_file, "the customer file (phase 9)"
