"""The MQTT intake's batches (no server): what arrived meanwhile is taken in together, in arrival order,
and acknowledged only once taken in; a fault skips one reading, an outage acknowledges nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiomqtt
import pytest
from pymongo.errors import ServerSelectionTimeoutError

from telemetry_service.gateways import mqtt
from telemetry_service.readings.intake import Arrival


class FakeClient:
    """What `_handle_all` uses of aiomqtt's client: the messages, and paho's manual acknowledgement."""

    def __init__(self, messages: list[aiomqtt.Message]) -> None:
        self._messages = messages
        self.acked: list[int] = []
        self._client = SimpleNamespace(ack=lambda mid, qos: self.acked.append(mid))

    @property
    def messages(self) -> AsyncIterator[aiomqtt.Message]:
        async def each() -> AsyncIterator[aiomqtt.Message]:
            for message in self._messages:
                yield message

        return each()


def message(gateway: str, mid: int) -> aiomqtt.Message:
    return aiomqtt.Message(
        f"gateways/{gateway}/readings", str(mid).encode(), qos=1, retain=False, mid=mid, properties=None
    )


def runtime() -> Any:
    return SimpleNamespace(settings=SimpleNamespace(mqtt_topic_root="gateways"))


async def test_readings_are_taken_in_as_batches_in_arrival_order_and_acknowledged_after(monkeypatch):
    batches: list[list[str]] = []
    acked_before: list[int] = []

    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        acked_before.append(len(client.acked))
        batches.append([f"{a.gateway_id}:{a.payload.decode()}" for a in arrivals])  # type: ignore[union-attr]
        return [None for _ in arrivals]

    monkeypatch.setattr(mqtt, "take_in_all", take_in_all)
    client = FakeClient([message("GW-1", 1), message("GW-1", 2), message("GW-2", 3), message("GW-1", 4)])

    await mqtt._handle_all(runtime(), client)  # type: ignore[arg-type]

    assert batches == [["GW-1:1", "GW-1:2", "GW-2:3", "GW-1:4"]]  # what arrived meanwhile, in order
    assert acked_before == [0]  # nothing acknowledged before it was taken in
    assert client.acked == [1, 2, 3, 4]


async def test_a_batch_is_at_most_batch_long(monkeypatch):
    sizes: list[int] = []

    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        sizes.append(len(arrivals))
        return [None for _ in arrivals]

    monkeypatch.setattr(mqtt, "take_in_all", take_in_all)
    client = FakeClient([message("GW-1", n) for n in range(1, mqtt.BATCH + 3)])

    await mqtt._handle_all(runtime(), client)  # type: ignore[arg-type]

    assert sizes == [mqtt.BATCH, 2]
    assert len(client.acked) == mqtt.BATCH + 2


async def test_a_fault_in_a_batch_skips_only_the_reading_that_meets_it(monkeypatch):
    taken: list[str] = []

    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        if any(a.payload == b"2" for a in arrivals):
            raise RuntimeError("a fault of the service")
        taken.extend(a.payload.decode() for a in arrivals)  # type: ignore[union-attr]
        return [None for _ in arrivals]

    monkeypatch.setattr(mqtt, "take_in_all", take_in_all)
    client = FakeClient([message("GW-1", 1), message("GW-1", 2), message("GW-2", 3)])

    await mqtt._handle_all(runtime(), client)  # type: ignore[arg-type]

    assert taken == ["1", "3"]
    assert client.acked == [1, 2, 3]  # the faulty one is acknowledged too: the stream goes on


async def test_an_outage_acknowledges_nothing_and_stops_the_intake(monkeypatch):
    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        raise ServerSelectionTimeoutError("no primary")

    monkeypatch.setattr(mqtt, "take_in_all", take_in_all)
    client = FakeClient([message("GW-1", 1), message("GW-1", 2)])

    with pytest.raises(ServerSelectionTimeoutError):
        await mqtt._handle_all(runtime(), client)  # type: ignore[arg-type]
    assert client.acked == []  # the broker hands them over again on the next connection
