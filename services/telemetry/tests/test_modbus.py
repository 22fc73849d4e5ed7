"""Modbus TCP polling: the register maps decoded without a server, then the service polling pymodbus
simulators that serve each map (real MongoDB and RabbitMQ): readings stored with their decoded values,
service level A coming due once, and a controller that does not answer reported while polling goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from compressor_contracts.events.telemetry import EquipmentServiceCameDue
from compressor_kit.testing import eventually
from compressor_kit.testing.harness import running_service
from compressor_kit.testing.ports import free_port
from telemetry_service.app import SERVICE
from telemetry_service.modbus import maps
from telemetry_service.modbus.domain import (
    DataType,
    RegisterKind,
    RegisterMap,
    ValueRegister,
    decode,
    encode_value,
    host_problem,
    informational,
    spans,
)
from telemetry_service.settings import TelemetrySettings

WAIT = 30.0
READ_AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
KAESER = {
    "discharge_pressure_bar": 7.5,
    "element_outlet_temperature_c": 81.25,
    "separator differential pressure": 0.375,
    "starts per hour": 4,
    "running_hours": 31_234,
    "loaded_hours": 27_001,
    "heartbeat": 17,
}
ELEKTRONIKON = {
    "discharge_pressure_bar": 7.25,
    "element_outlet_temperature_c": 78.4,
    "running_hours": 23_950,
    "loaded_hours": 20_102,
    "remaining_hours.A": 2_000,
    "remaining_hours.B": 6_050,
    "remaining_hours.C": 14_050,
    "remaining_hours.D": 38_050,
}


class SimulatedController:
    """A pymodbus server answering as one controller of a family: the map's registers, set by value
    (engineering units) and by alarm code, changeable while it serves."""

    def __init__(self, register_map: RegisterMap, unit_id: int = 1) -> None:
        self.register_map = register_map
        self.unit_id = unit_id
        self.registers: dict[tuple[RegisterKind, int], int] = {}

    def set(self, values: dict[str, float], codes: tuple[str, ...] = ()) -> None:
        for value in self.register_map.values:
            key = value.field or value.name
            if key in values:
                for offset, word in enumerate(encode_value(value, values[key])):
                    self.registers[(value.register_type, value.address + offset)] = word
        for bit in self.register_map.bits():
            word = self.registers.get((bit.register_type, bit.address), 0) & ~(1 << bit.bit)
            self.registers[(bit.register_type, bit.address)] = word | (1 << bit.bit if bit.code in codes else 0)

    async def _serve(
        self, function_code: int, start: int, address: int, count: int, current: list[int], written: Any
    ) -> None:
        kind = {3: RegisterKind.HOLDING, 4: RegisterKind.INPUT}.get(function_code)
        for (register_kind, register_address), word in self.registers.items():
            if register_kind is kind:
                current[register_address - start] = word

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        port = free_port()
        bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]
        words = [SimData(0, count=64, values=0, datatype=SimType.REGISTERS)]
        device = SimDevice(id=self.unit_id, simdata=(bits, bits, words, words), action=self._serve)
        server = ModbusTcpServer(device, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        try:
            yield port
        finally:
            await server.shutdown()


def registers_of(register_map: RegisterMap, values: dict[str, float], codes: tuple[str, ...] = ()) -> dict:
    controller = SimulatedController(register_map)
    controller.set(values, codes)
    return controller.registers


# --- pure: registers -> Reading ------------------------------------------------------------------


def test_each_map_is_valid_honest_and_decodes_its_values():
    families = maps.register_maps()
    assert {"kaeser-sigma", "elektronikon"} <= families.keys()
    assert "style" in families["kaeser-sigma"].label and "style" in families["elektronikon"].label

    kaeser = families["kaeser-sigma"]
    registers = registers_of(kaeser, KAESER, ("E-TEMP-HIGH", "W-SEP-DP", "W-FILTER"))
    reading = decode(kaeser, registers, device_id="DEV-K", read_at=READ_AT)
    assert (reading.discharge_pressure_bar, reading.element_outlet_temperature_c) == (7.5, 81.25)
    assert (reading.running_hours, reading.loaded_hours, reading.heartbeat) == (31_234, 27_001, 17)
    assert (reading.alarms, reading.warnings) == (["E-TEMP-HIGH"], ["W-SEP-DP", "W-FILTER"])
    assert informational(kaeser, registers) == {"separator differential pressure": 0.375, "starts per hour": 4}

    elektronikon = families["elektronikon"]
    registers = registers_of(elektronikon, {**ELEKTRONIKON, "remaining_hours.A": -12}, ("SD-MOTOR-OVERLOAD",))
    reading = decode(elektronikon, registers, device_id="DEV-E", read_at=READ_AT)
    assert (reading.discharge_pressure_bar, reading.element_outlet_temperature_c) == (7.25, 78.4)
    assert (reading.running_hours, reading.loaded_hours) == (23_950, 20_102)
    assert reading.remaining_hours == {"A": -12, "B": 6_050, "C": 14_050, "D": 38_050}  # A overdue
    assert (reading.alarms, reading.warnings) == (["SD-MOTOR-OVERLOAD"], [])


def test_word_order_data_types_and_a_service_request_bit():
    def value(data_type: str, word_order: str = "big", scale: float = 1.0) -> ValueRegister:
        return ValueRegister.model_validate(
            {
                "name": "v",
                "field": "running_hours",
                "register_type": "input",
                "address": 0,
                "data_type": data_type,
                "word_order": word_order,
                "scale": scale,
            }
        )

    assert encode_value(value("uint32"), 70_000) == [1, 4464]  # high word first
    assert encode_value(value("uint32", "little"), 70_000) == [4464, 1]
    assert encode_value(value("int16", scale=0.1), -12.5) == [0x10000 - 125]
    assert encode_value(value("float32"), 1.0) == [0x3F80, 0]
    for data_type in DataType:
        for order in ("big", "little"):
            for number in (0, 1, 123, 4000):
                register = value(data_type, order)
                words = encode_value(register, number)
                registers = {(RegisterKind.INPUT, i): word for i, word in enumerate(words)}
                reading = decode(
                    RegisterMap(family="t", label="t", values=[register]), registers, device_id="D", read_at=READ_AT
                )
                assert reading.running_hours == number, (data_type, order)

    elektronikon = maps.for_family("elektronikon")
    assert elektronikon is not None
    registers = registers_of(elektronikon, ELEKTRONIKON, ("SR-B",))
    reading = decode(elektronikon, registers, device_id="DEV-E", read_at=READ_AT)
    assert reading.remaining_hours["B"] == 0  # the controller asks for level B now
    assert reading.remaining_hours["A"] == 2_000 and reading.warnings == []


def test_adjacent_registers_are_read_together():
    elektronikon = maps.for_family("elektronikon")
    kaeser = maps.for_family("kaeser-sigma")
    assert elektronikon is not None and kaeser is not None
    assert [(s.kind, s.start, s.count) for s in spans(elektronikon)] == [(RegisterKind.INPUT, 0, 17)]
    assert [(s.kind, s.start, s.count) for s in spans(kaeser)] == [(RegisterKind.HOLDING, 0, 14)]


@pytest.mark.parametrize("host", ["10.20.1.15", "127.0.0.1", "192.168.0.7", "fd00::5", "plc-3.site.example"])
def test_controller_hosts_on_a_site_network_are_fine(host):
    assert host_problem(host) is None


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "255.255.255.255", "224.0.0.1", "240.0.0.1", "999.1.1.1", "http://x", "a b", "-x"]
)
def test_obviously_invalid_hosts_are_refused(host):
    assert host_problem(host) is not None


# --- the service polling simulators --------------------------------------------------------------


@pytest.fixture
def settings(test_settings) -> TelemetrySettings:
    return TelemetrySettings(
        **{
            **test_settings.model_dump(),
            "telemetry_modbus_poll_seconds": 0.3,
            "telemetry_modbus_timeout_seconds": 1.0,
            "telemetry_service_lead_days": 7,
        }
    )


def device(device_id: str, family: str, port: int, **fields: Any) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "equipment_id": f"EQ-{device_id}",
        "controller_family": family,
        "service_levels": [{"level": "A", "hours": 4000, "months": 12}],
        "last_service_on": (datetime.now(UTC) - timedelta(days=30)).date().isoformat(),
        "last_service_hours": 20_000,
        "modbus": {"host": "127.0.0.1", "port": port, "unit_id": 1},
        **fields,
    }


def manager_headers(tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint('u-manager-1', ['manager'], name='Tan Mei Ling')}"}


async def test_the_service_polls_each_map_and_level_a_comes_due_once(settings, test_db, tokens):
    headers = manager_headers(tokens)
    kaeser = SimulatedController(maps.register_maps()["kaeser-sigma"])
    kaeser.set(KAESER, ("W-FILTER",))
    elektronikon = SimulatedController(maps.register_maps()["elektronikon"])
    elektronikon.set(ELEKTRONIKON)  # 2,000 h left of level A: due in about 125 days, nothing to raise
    bindings = (EquipmentServiceCameDue.routing_key(),)
    async with kaeser.serving() as kaeser_port, elektronikon.serving() as elektronikon_port:
        async with running_service(SERVICE, settings, bindings=bindings) as running:
            for body in (
                device("DEV-K", "kaeser-sigma", kaeser_port, last_service_hours=30_000),
                device("DEV-E", "elektronikon", elektronikon_port),
            ):
                response = await running.client.post("/devices", json=body, headers=headers)
                assert response.status_code == 201, response.text

            def stored(device_id: str, at_least: int) -> Any:
                async def check() -> list[dict[str, Any]] | None:
                    found = list(test_db.readings.find({"device_id": device_id}).sort("read_at", 1))
                    return found if len(found) >= at_least else None

                return check

            [k] = (await eventually(stored("DEV-K", 1), timeout=WAIT))[:1]
            assert (k["discharge_pressure_bar"], k["element_outlet_temperature_c"]) == (7.5, 81.25)
            assert (k["running_hours"], k["loaded_hours"], k["warnings"]) == (31_234, 27_001, ["W-FILTER"])
            [e] = (await eventually(stored("DEV-E", 2), timeout=WAIT))[:1]
            assert (e["discharge_pressure_bar"], e["element_outlet_temperature_c"]) == (7.25, 78.4)
            assert e["remaining_hours"] == {"A": 2_000, "B": 6_050, "C": 14_050, "D": 38_050}
            assert e["equipment_id"] == "EQ-DEV-E"
            assert await running.tap.rest() == []

            # The controller's count of level A runs low: due within the lead time.
            elektronikon.set({"remaining_hours.A": 50, "running_hours": 23_951})
            [event] = await running.tap.take(1, timeout=WAIT)
            assert (event.data.equipment_id, event.data.device_id) == ("EQ-DEV-E", "DEV-E")
            assert (event.data.service_level, event.data.due_by, event.data.due_at_hours) == (
                "A",
                "running_hours",
                24_001,
            )
            # Later polls cross the same due point again: nothing more is raised.
            polled = test_db.readings.count_documents({"device_id": "DEV-E"})
            await eventually(stored("DEV-E", polled + 3), timeout=WAIT)
            assert await running.tap.rest() == []
            assert test_db.outbox.count_documents({"type": EquipmentServiceCameDue.event_type()}) == 1

            metrics = (await running.client.get("/metrics")).text
            assert 'compressor_telemetry_readings_accepted_total{source="modbus"}' in metrics


async def test_a_controller_that_does_not_answer_is_reported_and_polling_goes_on(settings, test_db, tokens):
    headers = manager_headers(tokens)
    kaeser = SimulatedController(maps.register_maps()["kaeser-sigma"])
    kaeser.set(KAESER)
    async with kaeser.serving() as port, running_service(SERVICE, settings) as running:
        down = device("DEV-DOWN", "kaeser-sigma", free_port())  # nothing listens there
        wrong_unit = device("DEV-UNIT", "kaeser-sigma", port)
        wrong_unit["modbus"]["unit_id"] = 9  # the server answers with a Modbus exception
        for body in (down, wrong_unit, device("DEV-UP", "kaeser-sigma", port)):
            response = await running.client.post("/devices", json=body, headers=headers)
            assert response.status_code == 201, response.text

        async def reported() -> list[dict[str, Any]] | None:
            response = await running.client.get("/modbus/polls", params={"failing": True}, headers=headers)
            assert response.status_code == 200, response.text
            items = response.json()["items"]
            return items if {i["device_id"] for i in items} == {"DEV-DOWN", "DEV-UNIT"} else None

        await eventually(reported, timeout=WAIT)
        ups = test_db.readings.count_documents({"device_id": "DEV-UP"})

        # Rounds go on: failures accumulate and the controller that answers keeps being read.
        async def went_on() -> bool:
            items = await reported()
            return (
                items is not None
                and all(i["failures_in_a_row"] >= 3 and i["answered_at"] is None for i in items)
                and test_db.readings.count_documents({"device_id": "DEV-UP"}) >= ups + 2
            )

        await eventually(went_on, timeout=WAIT)
        up = (await running.client.get("/modbus/polls", headers=headers)).json()["items"]
        assert {i["device_id"]: i["failures_in_a_row"] for i in up}["DEV-UP"] == 0
        assert test_db.readings.count_documents({"device_id": {"$in": ["DEV-DOWN", "DEV-UNIT"]}}) == 0
        metrics = (await running.client.get("/metrics")).text
        assert 'compressor_telemetry_modbus_polls_failed_total{family="kaeser-sigma"}' in metrics


async def test_a_modbus_address_is_checked_when_the_device_is_registered(settings, test_db, tokens):
    headers = manager_headers(tokens)
    async with running_service(SERVICE, settings) as running:
        bad_host = device("DEV-1", "kaeser-sigma", 502)
        bad_host["modbus"]["host"] = "0.0.0.0"
        response = await running.client.post("/devices", json=bad_host, headers=headers)
        assert response.status_code == 422, response.text
        assert "modbus.host" in response.text
        response = await running.client.post("/devices", json=device("DEV-1", "no-such-family", 502), headers=headers)
        assert response.status_code == 422, response.text
        assert "controller_family" in response.text
        assert test_db.devices.count_documents({}) == 0
        # No Modbus block: the device is not polled (an MQTT or upload device).
        plain = {k: v for k, v in device("DEV-2", "kaeser-sigma", 502).items() if k != "modbus"}
        response = await running.client.post("/devices", json=plain, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["modbus"] is None


async def test_with_two_replicas_each_controller_is_read_once_a_round(settings, test_db, tokens):
    settings = settings.model_copy(update={"telemetry_modbus_poll_seconds": 1.0})
    kaeser = SimulatedController(maps.register_maps()["kaeser-sigma"])
    kaeser.set(KAESER)
    async with kaeser.serving() as port, running_service(SERVICE, settings) as first:
        async with running_service(SERVICE, settings):
            first_round = int(datetime.now(UTC).timestamp())
            body = device("DEV-K", "kaeser-sigma", port, last_service_hours=30_000)
            response = await first.client.post("/devices", json=body, headers=manager_headers(tokens))
            assert response.status_code == 201, response.text

            async def read_six_times() -> bool:
                return test_db.readings.count_documents({"device_id": "DEV-K"}) >= 6

            await eventually(read_six_times, timeout=WAIT)
            readings = test_db.readings.count_documents({"device_id": "DEV-K"})
            last_round = int(datetime.now(UTC).timestamp())
    # Both replicas ran every round (of one second); one of them claimed the device in each, so there
    # is at most one reading a round (two without the claim).
    assert readings <= last_round - first_round + 1
    assert test_db.rejections.count_documents({"reason": "duplicate"}) == 0
