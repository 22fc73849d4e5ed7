"""The MQTT intake's batches (no server): what arrived meanwhile is taken in together, in arrival order,
and acknowledged only once taken in; a fault skips one reading; an outage holds the readings
unacknowledged and tries again until MongoDB answers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from pymongo.errors import ServerSelectionTimeoutError

from compressor_kit.testing import eventually
from telemetry_service.gateways import mqtt
from telemetry_service.readings.intake import Arrival

TakeIn = Callable[[Any, list[Arrival]], Awaitable[list[None]]]


def runtime() -> Any:
    return SimpleNamespace(settings=SimpleNamespace(mqtt_topic_root="gateways"))


async def deliver(monkeypatch, take_in_all: TakeIn, messages: list[tuple[str, bytes]]) -> list[asyncio.Task[int]]:
    """gmqtt's part: one `on_message` task per PUBLISH, in order; each one's result is its PUBACK."""
    monkeypatch.setattr(mqtt, "take_in_all", take_in_all)
    session = mqtt.Session(runtime())
    handlers = [asyncio.create_task(session.on_message(None, topic, body, 1, {})) for topic, body in messages]
    taking_in = asyncio.create_task(session.take_in_batches())

    async def all_handled() -> bool:
        return all(handler.done() for handler in handlers)

    try:
        await eventually(all_handled, timeout=5)
    finally:
        taking_in.cancel()
    return handlers


def readings(*names: str) -> list[tuple[str, bytes]]:
    return [(f"gateways/{name.split(':')[0]}/readings", name.split(":")[1].encode()) for name in names]


async def test_readings_are_taken_in_as_batches_in_arrival_order_and_acknowledged_after(monkeypatch):
    batches: list[list[str]] = []
    handlers: list[asyncio.Task[int]] = []

    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        assert not any(handler.done() for handler in handlers)  # nothing acknowledged before it is taken in
        batches.append([f"{a.gateway_id}:{a.payload.decode()}" for a in arrivals])  # type: ignore[union-attr]
        await asyncio.sleep(0.01)  # waiting on MongoDB: the other partitions' batches go on meanwhile
        return [None for _ in arrivals]

    monkeypatch.setattr(mqtt, "take_in_all", take_in_all)
    session = mqtt.Session(runtime())
    sent = [f"GW-{n % 7}:{n}" for n in range(40)]
    handlers = [asyncio.create_task(session.on_message(None, topic, body, 1, {})) for topic, body in readings(*sent)]
    await asyncio.sleep(0)  # each handler has queued its reading
    taking_in = asyncio.create_task(session.take_in_batches())
    done, _ = await asyncio.wait(handlers, timeout=5)
    taking_in.cancel()

    taken = [reading for batch in batches for reading in batch]
    assert sorted(taken) == sorted(sent)  # each once
    for gateway in {name.split(":")[0] for name in sent}:  # each gateway's in the order they came
        assert [r for r in taken if r.startswith(f"{gateway}:")] == [r for r in sent if r.startswith(f"{gateway}:")]
    assert 1 < len(batches) <= mqtt.PARTITIONS  # what arrived meanwhile, partition by partition
    assert len(done) == 40 and {handler.result() for handler in handlers} == {0}  # PUBACK: success


async def test_a_batch_is_at_most_batch_long(monkeypatch):
    sizes: list[int] = []

    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        sizes.append(len(arrivals))
        return [None for _ in arrivals]

    await deliver(monkeypatch, take_in_all, readings(*(f"GW-1:{n}" for n in range(mqtt.BATCH + 2))))

    assert sizes == [mqtt.BATCH, 2]


async def test_a_fault_in_a_batch_skips_only_the_reading_that_meets_it(monkeypatch):
    taken: list[str] = []

    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        if any(a.payload == b"2" for a in arrivals):
            raise RuntimeError("a fault of the service")
        taken.extend(a.payload.decode() for a in arrivals)  # type: ignore[union-attr]
        return [None for _ in arrivals]

    handlers = await deliver(monkeypatch, take_in_all, readings("GW-1:1", "GW-1:2", "GW-2:3"))

    assert taken == ["1", "3"]
    assert [handler.result() for handler in handlers] == [0, 0, 0]  # the faulty one too: the stream goes on


async def test_an_outage_holds_the_readings_unacknowledged_until_mongodb_answers(monkeypatch):
    monkeypatch.setattr(mqtt, "RECONNECT_SECONDS", 0.01)
    attempts: list[int] = []
    handlers: list[asyncio.Task[int]] = []

    async def take_in_all(runtime: Any, arrivals: list[Arrival]) -> list[None]:
        attempts.append(len(arrivals))
        if len(attempts) < 3:
            assert not any(handler.done() for handler in handlers)
            raise ServerSelectionTimeoutError("no primary")
        return [None for _ in arrivals]

    monkeypatch.setattr(mqtt, "take_in_all", take_in_all)
    session = mqtt.Session(runtime())
    handlers = [asyncio.create_task(session.on_message(None, t, b, 1, {})) for t, b in readings("GW-1:1", "GW-1:2")]
    await asyncio.sleep(0)
    taking_in = asyncio.create_task(session.take_in_batches())
    done, _ = await asyncio.wait(handlers, timeout=5)
    taking_in.cancel()

    assert attempts == [2, 2, 2]  # the same batch, tried again, not split or dropped
    assert len(done) == 2


async def test_readings_not_taken_in_when_the_client_stops_get_no_acknowledgement_wait(monkeypatch):
    """Abandoned on disconnect: the handlers end (gmqtt's PUBACK then goes to a closed connection)."""
    session = mqtt.Session(runtime())
    handlers = [asyncio.create_task(session.on_message(None, t, b, 1, {})) for t, b in readings("GW-1:1")]
    await asyncio.sleep(0)
    assert not handlers[0].done()
    session.abandon()
    await asyncio.wait_for(handlers[0], timeout=1)


async def test_a_closed_connection_is_logged_once_not_once_per_unacknowledged_reading(caplog):
    """gmqtt warns for every acknowledgement it cannot write on a closed connection (thousands after
    an outage); the intake says once how many readings the broker will hand over again."""
    session = mqtt.Session(runtime())
    messages = readings("GW-1:1", "GW-2:2", "GW-3:3")
    handlers = [asyncio.create_task(session.on_message(None, t, b, 1, {})) for t, b in messages]
    await asyncio.sleep(0)
    with caplog.at_level(logging.INFO):
        session.abandon()
        await asyncio.wait_for(asyncio.gather(*handlers), timeout=1)
        for _ in handlers:  # what gmqtt's protocol logs for each PUBACK it then tries to write
            logging.getLogger("gmqtt.mqtt.protocol").warning("[TRYING WRITE TO CLOSED SOCKET]")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "MQTT connection closed with 3 readings unacknowledged: the broker hands them over again"
    ]
