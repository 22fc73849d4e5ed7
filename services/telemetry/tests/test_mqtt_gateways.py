"""The MQTT intake's handling order (no server): readings of different gateways are handled side by side,
one gateway's one at a time in the order they came, each acknowledged once handled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiomqtt

from compressor_kit.turns import Turns
from telemetry_service.gateways import mqtt


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


async def test_gateways_are_handled_side_by_side_and_each_gateways_readings_in_order(monkeypatch):
    other_gateway_started = asyncio.Event()
    handled: list[str] = []

    async def take_in(runtime: Any, payload: bytes, *, source: str, gateway_id: str) -> None:
        if payload == b"1":
            # GW-1's first reading is still being handled when GW-2's starts: without handling side by
            # side this waits for good.
            await asyncio.wait_for(other_gateway_started.wait(), timeout=5)
        if gateway_id == "GW-2":
            other_gateway_started.set()
        await asyncio.sleep(0)
        handled.append(f"{gateway_id}:{payload.decode()}")

    monkeypatch.setattr(mqtt, "take_in", take_in)
    runtime = SimpleNamespace(turns=Turns(), settings=SimpleNamespace(mqtt_topic_root="gateways"))
    client = FakeClient([message("GW-1", 1), message("GW-1", 2), message("GW-2", 3), message("GW-1", 4)])

    await mqtt._handle_all(runtime, client)  # type: ignore[arg-type]

    assert [h for h in handled if h.startswith("GW-1")] == ["GW-1:1", "GW-1:2", "GW-1:4"]
    assert handled.index("GW-2:3") < handled.index("GW-1:1")
    assert sorted(client.acked) == [1, 2, 3, 4]
