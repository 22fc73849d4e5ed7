"""Telemetry on the real servers: site gateways publish readings to a real Mosquitto with per-gateway
credentials, the service stores them in MongoDB's time-series collection, rejects bad ones with their
reason, and publishes a service level coming due exactly once."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import pytest
from pydantic import SecretStr

from compressor_contracts.events.telemetry import EquipmentAlarmRaised, EquipmentServiceCameDue
from compressor_kit.testing import eventually
from compressor_kit.testing.harness import running_service
from compressor_kit.testing.mosquitto import mosquitto_broker, open_session, self_signed_certificate
from compressor_kit.testing.ports import free_port
from telemetry_service.app import SERVICE
from telemetry_service.settings import TelemetrySettings

WAIT = 30.0
PASSWORDS = {"telemetry": "telemetry-pw", "GW-1": "gw1-pw", "GW-2": "gw2-pw"}


@pytest.fixture
async def mqtt_port():
    with mosquitto_broker(PASSWORDS) as port:
        # Telemetry's session exists before the service first connects (as in service): readings
        # published meanwhile wait in it instead of finding no subscriber.
        await open_session(port, "telemetry", PASSWORDS["telemetry"], "gateways/+/readings")
        yield port


@pytest.fixture
def settings(test_settings, mqtt_port) -> TelemetrySettings:
    return TelemetrySettings(
        **{
            **test_settings.model_dump(),
            "mqtt_url": f"mqtt://127.0.0.1:{mqtt_port}",
            "mqtt_username": "telemetry",
            "mqtt_password": SecretStr(PASSWORDS["telemetry"]),
            "telemetry_service_lead_days": 7,
        }
    )


DEVICE = {
    "device_id": "DEV-1",
    "equipment_id": "EQ-7781",
    "gateway_id": "GW-1",
    "controller_family": "elektronikon",
    "service_levels": [{"level": "A", "hours": 4000, "months": 12}],
    "last_service_on": (datetime.now(UTC) - timedelta(days=30)).date().isoformat(),
    "last_service_hours": 20_000,
}


def reading(minutes_ago: float, running_hours: float, **fields: Any) -> dict[str, Any]:
    read_at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    return {"device_id": "DEV-1", "read_at": read_at.isoformat(), "running_hours": running_hours, **fields}


async def publish(port: int, gateway: str, payloads: list[Any], *, topic_gateway: str | None = None) -> None:
    async with aiomqtt.Client("127.0.0.1", port, username=gateway, password=PASSWORDS[gateway]) as client:
        for payload in payloads:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            await client.publish(f"gateways/{topic_gateway or gateway}/readings", body, qos=1)


async def test_gateway_readings_are_stored_bad_ones_rejected_with_their_reason_and_a_due_level_raised_once(
    settings, test_db, tokens, mqtt_port
):
    manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}
    bindings = (EquipmentServiceCameDue.routing_key(),)
    async with running_service(SERVICE, settings, bindings=bindings) as running:
        response = await running.client.post("/devices", json=DEVICE, headers=manager)
        assert response.status_code == 201, response.text

        far = reading(10, 21_000)  # 3,000 h before level A: nothing due
        near = reading(5, 23_950, remaining_hours={"A": 50})  # 50 h left: due within the lead time
        await publish(mqtt_port, "GW-1", [far, near, near])  # `near` twice: a QoS 1 redelivery

        async def stored() -> bool:
            return test_db.readings.count_documents({"device_id": "DEV-1"}) == 2

        await eventually(stored, timeout=WAIT)
        [event] = await running.tap.take(1, timeout=WAIT)
        assert event.data.equipment_id == "EQ-7781"
        assert (event.data.service_level, event.data.due_by, event.data.due_at_hours) == ("A", "running_hours", 24_000)
        assert [r.running_hours for r in event.data.recent_readings] == [21_000, 23_950]

        bad = [
            b"{not json",
            reading(4, 23_960, element_outlet_temperature_c=900),
            reading(3, 23_000),  # the hour meter went back
            reading(-120, 23_970),  # two hours ahead of now
            {**reading(2, 23_970), "device_id": "DEV-UNKNOWN"},
        ]
        await publish(mqtt_port, "GW-1", bad)
        await publish(mqtt_port, "GW-2", [reading(1, 23_980)])  # GW-2 may not speak for DEV-1
        # GW-2 cannot publish under GW-1's topic at all: the broker drops it, the service never sees it.
        await publish(mqtt_port, "GW-2", [reading(1.5, 23_975)], topic_gateway="GW-1")
        await publish(mqtt_port, "GW-1", [reading(0.5, 23_990, remaining_hours={"A": 10})])  # still the same due point

        expected = {
            "duplicate": 1,
            "malformed": 1,
            "out_of_range": 1,
            "counter_backwards": 1,
            "from_the_future": 1,
            "unknown_device": 1,
            "wrong_gateway": 1,
        }

        async def all_judged() -> dict[str, int] | None:
            response = await running.client.get("/readings/rejections", params={"limit": 50}, headers=manager)
            assert response.status_code == 200, response.text
            counts = response.json()["counts"]
            return counts if counts == expected and test_db.readings.count_documents({}) == 3 else None

        await eventually(all_judged, timeout=WAIT)
        # The due point was raised once only, though later readings crossed it again.
        assert test_db.outbox.count_documents({"type": EquipmentServiceCameDue.event_type()}) == 1
        assert await running.tap.rest() == []

        response = await running.client.get("/devices/DEV-1/readings", headers=manager)
        assert response.status_code == 200, response.text
        assert [r["running_hours"] for r in response.json()["readings"]] == [21_000, 23_950, 23_990]

        metrics = (await running.client.get("/metrics")).text
        assert 'compressor_telemetry_readings_rejected_total{reason="duplicate",source="mqtt"} 1.0' in metrics


async def test_an_uploaded_export_is_taken_in_row_by_row(settings, test_db, tokens):
    manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}
    async with running_service(SERVICE, settings, bindings=(EquipmentServiceCameDue.routing_key(),)) as running:
        assert (await running.client.post("/devices", json=DEVICE, headers=manager)).status_code == 201
        rows = [(30, 21_000, ""), (20, 21_004, ""), (10, 21_005, "900"), (5, 21_006, "")]
        header = "device_id,read_at,running_hours,element_outlet_temperature_c,remaining_hours_A\n"
        body = header + "".join(f"DEV-1,{reading(m, h)['read_at']},{h},{t},\n" for m, h, t in rows)
        body += "DEV-1,not-a-time,21010,,\n"
        response = await running.client.post(
            "/readings/uploads", files={"data": ("export.csv", body.encode(), "text/csv")}, headers=manager
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "accepted": 3,
            "rejected": {"out_of_range": 1, "malformed": 1},
            "due_raised": [],
        }
        assert test_db.readings.count_documents({"device_id": "DEV-1"}) == 3

        again = await running.client.post(
            "/readings/uploads", files={"data": ("export.csv", body.encode(), "text/csv")}, headers=manager
        )
        assert again.json() == {
            "accepted": 0,
            "rejected": {"duplicate": 3, "out_of_range": 1, "malformed": 1},
            "due_raised": [],
        }
        assert test_db.readings.count_documents({"device_id": "DEV-1"}) == 3

        refused = await running.client.post(
            "/readings/uploads", files={"data": ("export.json", b"{oops", "application/json")}, headers=manager
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")

        no_file = await running.client.post("/readings/uploads", data={"note": "forgot the file"}, headers=manager)
        assert no_file.status_code in (400, 422), no_file.text
        assert no_file.headers["content-type"].startswith("application/problem+json")
        assert "data" in no_file.text


async def test_one_batch_judges_its_readings_in_order_against_each_other(settings, test_db, tokens):
    """An export of several readings is one batch: a reading repeated within it is a duplicate, the due
    point and the alarm it crosses are raised once, and their events carry the batch's earlier readings
    (not yet in the time-series collection when the transaction publishes them)."""
    manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}
    bindings = (EquipmentServiceCameDue.routing_key(), EquipmentAlarmRaised.routing_key())
    async with running_service(SERVICE, settings, bindings=bindings) as running:
        assert (await running.client.post("/devices", json=DEVICE, headers=manager)).status_code == 201
        rows = [
            reading(30, 21_000),
            reading(20, 21_004),
            reading(20, 21_004),  # the same reading again
            reading(10, 23_950, remaining_hours={"A": 50}),  # level A due within the lead time
            reading(8, 23_951, remaining_hours={"A": 49}),  # the same due point again
            reading(5, 23_952, alarms=["E0102"]),  # a shutdown: raised at once
            reading(4, 23_953, alarms=["E0102"]),  # the same episode
        ]
        response = await running.client.post(
            "/readings/uploads",
            files={"data": ("export.json", json.dumps(rows).encode(), "application/json")},
            headers=manager,
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["accepted"], result["rejected"], len(result["due_raised"])) == (6, {"duplicate": 1}, 1)

        events = {event.type: event.data for event in await running.tap.take(2, timeout=WAIT)}
        due = events[EquipmentServiceCameDue.event_type()]
        assert [r.running_hours for r in due.recent_readings] == [21_000, 21_004, 23_950]
        alarm = events[EquipmentAlarmRaised.event_type()]
        assert alarm.alarm_code == "E0102"
        assert [r.running_hours for r in alarm.recent_readings] == [21_000, 21_004, 23_950, 23_951, 23_952]
        assert await running.tap.rest() == []
        assert sorted(doc["running_hours"] for doc in test_db.readings.find({})) == [
            21_000,
            21_004,
            23_950,
            23_951,
            23_952,
            23_953,
        ]
        state = test_db.device_state.find_one({"_id": "DEV-1"})
        assert state["last"]["running_hours"] == 23_953 and len(state["recent"]) == 6


async def test_one_replica_holds_the_mqtt_session_and_another_takes_over_when_it_stops(
    settings, test_db, tokens, mqtt_port
):
    """Replicas share one session (one client id), held by whichever holds the intake lease: every
    reading is taken in once, and readings published after the holder stopped reach the other replica,
    with none left in a session nobody reads (as one of a shared subscription's would be)."""
    manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}
    bindings = (EquipmentServiceCameDue.routing_key(),)

    def stored() -> list[float]:
        return sorted(doc["running_hours"] for doc in test_db.readings.find({"device_id": "DEV-1"}))

    def stored_at_least(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(stored()) >= count

        return check

    async with running_service(SERVICE, settings, bindings=bindings) as standby:
        async with running_service(SERVICE, settings, bindings=bindings) as holder:
            assert (await holder.client.post("/devices", json=DEVICE, headers=manager)).status_code == 201
            await publish(mqtt_port, "GW-1", [reading(60 - n, 21_000 + n) for n in range(20)])
            await eventually(stored_at_least(20), timeout=WAIT)
        # The replica that held the session stopped (and let the lease go): the other takes over.
        await publish(mqtt_port, "GW-1", [reading(40 - n, 21_020 + n) for n in range(20)])
        await eventually(stored_at_least(40), timeout=WAIT)
        assert standby  # still running
        assert stored() == [21_000 + n for n in range(40)]  # each once, none lost
        assert [doc["reason"] for doc in test_db.rejections.find({})] == []
        [lease] = list(test_db.leases.find({}))
        assert lease["generation"] >= 1


async def test_the_intake_reconnects_and_subscribes_again_after_the_broker_restarts(test_settings, test_db, tokens):
    manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}
    port = free_port()
    settings = TelemetrySettings(
        **{
            **test_settings.model_dump(),
            "mqtt_url": f"mqtt://127.0.0.1:{port}",
            "mqtt_username": "telemetry",
            "mqtt_password": SecretStr(PASSWORDS["telemetry"]),
        }
    )
    with ExitStack() as first_broker:
        first_broker.enter_context(mosquitto_broker(PASSWORDS, port=port))
        await open_session(port, "telemetry", PASSWORDS["telemetry"], "gateways/+/readings")
        async with running_service(SERVICE, settings) as running:
            assert (await running.client.post("/devices", json=DEVICE, headers=manager)).status_code == 201
            await publish(port, "GW-1", [reading(30, 21_000)])
            await eventually(stored_count_at_least(test_db, 1), timeout=WAIT)

            first_broker.close()  # the broker goes, and comes back without the session (no persistence)
            with mosquitto_broker(PASSWORDS, port=port):
                sent = itertools.count(1)

                async def taken_in_after_the_restart() -> bool:
                    # Published until the service is back and subscribed: one published before that has
                    # no subscriber, and the broker drops it.
                    await publish(port, "GW-1", [reading(30 - next(sent) / 10, 21_001)])
                    return test_db.readings.count_documents({}) >= 2

                await eventually(taken_in_after_the_restart, timeout=WAIT)


async def test_the_intake_speaks_tls_to_a_broker_whose_certificate_it_trusts(
    test_settings, test_db, tokens, tmp_path, monkeypatch
):
    """mqtts:// : the broker's certificate is checked (here against SSL_CERT_FILE, in service the
    system's CAs); readings come in over TLS."""
    manager = {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}
    certificate, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    with mosquitto_broker(PASSWORDS, tls=(certificate, key)) as port:
        settings = TelemetrySettings(
            **{
                **test_settings.model_dump(),
                "mqtt_url": f"mqtts://127.0.0.1:{port}",
                "mqtt_username": "telemetry",
                "mqtt_password": SecretStr(PASSWORDS["telemetry"]),
            }
        )
        async with running_service(SERVICE, settings) as running:
            assert (await running.client.post("/devices", json=DEVICE, headers=manager)).status_code == 201
            sent = itertools.count(1)
            tls = aiomqtt.TLSParameters(ca_certs=str(certificate))

            async def taken_in_over_tls() -> bool:
                async with aiomqtt.Client(
                    "127.0.0.1", port, username="GW-1", password=PASSWORDS["GW-1"], tls_params=tls
                ) as gateway:
                    body = json.dumps(reading(30 - next(sent) / 10, 21_000)).encode()
                    await gateway.publish("gateways/GW-1/readings", body, qos=1)
                return test_db.readings.count_documents({}) >= 1

            await eventually(taken_in_over_tls, timeout=WAIT)


def test_an_mqtt_url_that_is_no_broker_is_refused(test_settings):
    with pytest.raises(ValueError, match="MQTT_URL"):
        TelemetrySettings(**{**test_settings.model_dump(), "mqtt_url": "http://broker.example.com"})


def stored_count_at_least(db: Any, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return db.readings.count_documents({}) >= count

    return check


async def test_replicas_starting_together_both_find_the_readings_collection(test_settings):
    from types import SimpleNamespace

    from pymongo import AsyncMongoClient

    from telemetry_service.readings.store import ensure_readings_collection

    async with AsyncMongoClient(test_settings.mongodb_url.get_secret_value()) as client:
        replica = SimpleNamespace(db=client[test_settings.mongodb_database])
        await asyncio.gather(*(ensure_readings_collection(replica, 30) for _ in range(4)))
        [info] = await (await replica.db.list_collections(filter={"name": "readings"})).to_list()
        assert info["type"] == "timeseries" and info["options"]["expireAfterSeconds"] == 30 * 86_400
        await client.drop_database(test_settings.mongodb_database)
