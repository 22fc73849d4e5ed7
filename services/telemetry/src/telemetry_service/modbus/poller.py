"""Polling the controllers registered with a Modbus address, every TELEMETRY_MODBUS_POLL_SECONDS.

Each round reads every such device's registers (its family's register map) with pymodbus, decodes
them into a Reading and takes it in like any other reading (`source="modbus"`). A controller that
does not answer in TELEMETRY_MODBUS_TIMEOUT_SECONDS is logged, counted and recorded for an admin
(GET /modbus/polls), and the round goes on. With several replicas, one replica claims each device's
round (modbus_polls), so a controller is read once a round.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from compressor_kit.retry import is_outage
from telemetry_service.devices import store as devices
from telemetry_service.devices.domain import Device
from telemetry_service.modbus import maps, store
from telemetry_service.modbus.domain import ModbusAddress, RegisterKind, RegisterMap, decode, spans
from telemetry_service.readings.intake import take_in_reading
from telemetry_service.settings import TelemetryRuntime

log = logging.getLogger(__name__)

CONCURRENT_POLLS = 32  # controllers read at once; each poll waits mostly on the site's network


class ControllerSilent(Exception):
    """The controller did not answer, or answered a read with a Modbus exception."""


async def poll_round(runtime: TelemetryRuntime) -> None:
    """One round: every Modbus device once (those another replica claimed this round excepted)."""
    settings = runtime.settings
    now = runtime.clock.now()
    round_number = int(now.timestamp() // settings.telemetry_modbus_poll_seconds)
    targets = await devices.modbus_devices(runtime)
    limit = asyncio.Semaphore(CONCURRENT_POLLS)

    async def poll_one(device: Device) -> None:
        async with limit:
            try:
                await poll_device(runtime, device, round_number)
            except Exception as error:
                if is_outage(error):
                    raise  # MongoDB itself is down: the round fails, the next one retries
                log.exception("device %s: Modbus poll failed", device.device_id)

    await asyncio.gather(*(poll_one(device) for device in targets))


async def poll_device(runtime: TelemetryRuntime, device: Device, round_number: int) -> None:
    if device.modbus is None or not await store.claim_round(runtime, device.device_id, round_number):
        return
    family = device.controller_family
    register_map = maps.for_family(family)
    if register_map is None:
        await _failed(runtime, device, f"no register map for controller family {family!r}")
        return
    try:
        async with asyncio.timeout(runtime.settings.telemetry_modbus_timeout_seconds):
            registers = await read_registers(
                device.modbus, register_map, runtime.settings.telemetry_modbus_timeout_seconds
            )
    except (TimeoutError, ControllerSilent, ModbusException, OSError) as error:
        await _failed(runtime, device, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
        return
    read_at = _millis(runtime.clock.now())
    reading = decode(register_map, registers, device_id=device.device_id, read_at=read_at)
    await take_in_reading(runtime, reading, source="modbus")
    await store.record_answer(runtime, device.device_id, at=read_at, family=family)


async def read_registers(
    address: ModbusAddress, register_map: RegisterMap, timeout: float
) -> dict[tuple[RegisterKind, int], int]:
    """Every register the map names, read over one connection."""
    # No retries or reconnects of its own: the next round is the retry.
    client = AsyncModbusTcpClient(address.host, port=address.port, timeout=timeout, retries=0, reconnect_delay=0)
    try:
        if not await client.connect():
            raise ControllerSilent(f"no connection to {address.host}:{address.port}")
        found: dict[tuple[RegisterKind, int], int] = {}
        for span in spans(register_map):
            read = client.read_holding_registers if span.kind is RegisterKind.HOLDING else client.read_input_registers
            response = await read(span.start, count=span.count, device_id=address.unit_id)
            if response.isError() or len(response.registers) != span.count:
                raise ControllerSilent(f"{span.kind} registers {span.start}..{span.start + span.count - 1}: {response}")
            found.update({(span.kind, span.start + i): value for i, value in enumerate(response.registers)})
        return found
    finally:
        client.close()


async def _failed(runtime: TelemetryRuntime, device: Device, error: str) -> None:
    family = device.controller_family
    log.warning("device %s (%s): controller did not answer: %s", device.device_id, family, error)
    runtime.metrics.counter(
        "compressor_telemetry_modbus_polls_failed", "Modbus polls a controller did not answer", ("family",)
    ).labels(family).inc()
    await store.record_failure(runtime, device.device_id, at=runtime.clock.now(), family=family, error=error)


def _millis(moment: datetime) -> datetime:
    # MongoDB keeps milliseconds: the reading's time as stored, so that a redelivery compares equal.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
