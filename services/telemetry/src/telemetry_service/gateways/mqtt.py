"""Readings from site gateways over MQTT.

Each gateway has its own MQTT user and may publish only under `<root>/<its id>/readings` (the broker's
access list says so, `infra/mosquitto/`); the gateway id this service trusts is the topic's, which the
broker checked, never a field of the payload. Telemetry subscribes with QoS 1 and a persistent session
(MQTT 5, SESSION_EXPIRY_SECONDS), and acknowledges a message only once the reading was taken in:
readings published while the service was down wait in the broker, and one whose handling was cut short
is delivered again (and recognised as a duplicate if it had been taken in).

One session, one replica. Whichever replica holds the intake lease (MongoDB, kit/lease.py) connects,
under the one client id all replicas share; the others wait to take over once it stops renewing. A
session per replica with a shared subscription would spread the readings, but Mosquitto goes on
handing a share to the session of a replica that is gone (a pod replaced under a new name, a scale-down)
and that share is lost; one batch consumer takes in far more than a fleet sends (bench/README.md), and
keeps each gateway's readings in order.

Readings are taken in in batches, in the order they came: whatever arrived while the last batch was
being stored, up to BATCH (readings/intake.py stores a batch with a handful of MongoDB round trips,
where one at a time each took about nine). MQTT 5's receive maximum lets the broker hand over the next
batch's readings meanwhile, unacknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from typing import Any
from urllib.parse import urlsplit

import gmqtt
from gmqtt.mqtt.constants import MQTTv50

from compressor_kit.lease import Lease, LeaseLost
from compressor_kit.retry import is_outage
from telemetry_service.gateways import store
from telemetry_service.readings.intake import Arrival, take_in_all
from telemetry_service.settings import TelemetryRuntime, TelemetrySettings

log = logging.getLogger(__name__)


class _NoWarningPerUnwrittenAck(logging.Filter):
    """gmqtt warns once for every acknowledgement it cannot write on a closed connection: after a lost
    connection, that is each reading still unacknowledged, up to RECEIVE_MAXIMUM lines. They need no
    acknowledgement (the broker hands them over again), and `Session.abandon` says so once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "[TRYING WRITE TO CLOSED SOCKET]"


logging.getLogger("gmqtt.mqtt.protocol").addFilter(_NoWarningPerUnwrittenAck())

RECONNECT_SECONDS = 2.0
CONNECT_SECONDS = 10.0
LEASE_SECONDS = 15.0  # a holder that stops renewing (stopped, cut off) hands the intake over after this
BATCH = 250  # readings of one partition taken in together at most
PARTITIONS = 4  # batches judged and stored side by side, each for its share of the gateways
# Unacknowledged readings the broker may hand over: each partition's batch being stored, the next arriving.
RECEIVE_MAXIMUM = 2 * BATCH * PARTITIONS
# How long the broker keeps the session (the subscription and the readings waiting for it) while no
# replica is connected: readings wait through an outage of telemetry this long.
SESSION_EXPIRY_SECONDS = 7 * 86_400


def gateway_of(topic: str, root: str) -> str | None:
    """The gateway id in `<root>/<gateway id>/readings`, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == root and parts[2] == "readings" and parts[1]:
        return parts[1]
    return None


def client_id(settings: TelemetrySettings) -> str:
    """MQTT_CLIENT_ID, else the MQTT user's name: the same for every replica, so whichever holds the
    lease resumes the one session and the readings waiting in it."""
    return settings.mqtt_client_id or settings.mqtt_username


async def listen(runtime: TelemetryRuntime) -> None:
    """Take in every gateway's readings for as long as the service runs, while this replica holds the
    intake lease; a lost broker or database is waited for."""
    settings = runtime.settings
    if not settings.mqtt_url:
        log.info("MQTT_URL is empty: no MQTT intake")
        return
    lease = store.intake_lease(runtime, LEASE_SECONDS)
    try:
        while True:
            try:
                if await lease.hold():
                    await _take_in_while_held(runtime, lease)
            except LeaseLost:
                log.warning("MQTT intake lease not renewed in time: disconnected, another replica may take over")
            except Exception as error:
                if not (is_outage(error) or isinstance(error, OSError | TimeoutError | gmqtt.MQTTConnectError)):
                    raise
                log.warning("MQTT intake paused (%s); trying again in %.0f s", error, RECONNECT_SECONDS)
            await asyncio.sleep(RECONNECT_SECONDS if lease.held else LEASE_SECONDS / 3)
    finally:
        if lease.held:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lease.release(), timeout=2)  # the next replica takes over at once


class Client(gmqtt.Client):  # type: ignore[misc]
    """gmqtt's client, except that a lost connection ends it instead of reconnecting by itself:
    `listen` connects a new one once this replica (still) holds the lease. gmqtt's own reconnection
    would go on after the lease was lost, and could answer a reading of the old connection on the new
    one; it also falls back to MQTT 3.1.1, where gmqtt acknowledges a reading on receipt."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lost = asyncio.Event()

    async def reconnect(self, delay: bool = False) -> None:
        self.lost.set()

    async def until_lost(self) -> None:
        await self.lost.wait()
        raise ConnectionError("the connection to the MQTT broker was lost")


async def _take_in_while_held(runtime: TelemetryRuntime, lease: Lease) -> None:
    """One MQTT connection, for as long as it lasts and the lease is held."""
    settings = runtime.settings
    address = urlsplit(settings.mqtt_url)
    host, tls = address.hostname or "127.0.0.1", address.scheme == "mqtts"
    port = address.port or (8883 if tls else 1883)
    session = Session(runtime)
    client = Client(
        client_id(settings),
        clean_session=False,  # MQTT 5's clean start off: resume the session and what waits in it
        optimistic_acknowledgement=False,  # PUBACK once `on_message` returns, after the reading is stored
        session_expiry_interval=SESSION_EXPIRY_SECONDS,
        receive_maximum=RECEIVE_MAXIMUM,
    )
    client.set_auth_credentials(settings.mqtt_username, settings.mqtt_password.get_secret_value() or None)
    client.on_message = session.on_message
    try:
        # A refused or unanswered CONNECT leaves gmqtt waiting for a CONNACK that never comes.
        await asyncio.wait_for(
            client.connect(host, port, ssl=tls, keepalive=30, version=MQTTv50), timeout=CONNECT_SECONDS
        )
        # Subscribed on every connection: a session the broker let expire (or lost) has none.
        client.subscribe(f"{settings.mqtt_topic_root}/+/readings", qos=1)
        log.info("MQTT intake connected to %s as %s", settings.mqtt_url, client_id(settings))
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(_keep_holding(lease))
                tasks.create_task(client.until_lost())
                tasks.create_task(session.take_in_batches())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=2)
        session.abandon()


async def _keep_holding(lease: Lease) -> None:
    """Renew the lease a few times per its length; raise LeaseLost once it may have run out."""
    while True:
        await asyncio.sleep(lease.seconds / 3)
        try:
            if await lease.hold():
                continue
        except Exception as error:
            if is_outage(error) and lease.held:
                continue  # MongoDB away for now; the lease still runs
            if not is_outage(error):
                raise
        raise LeaseLost(lease.name)


class Session:
    """The readings of one MQTT connection, taken in as batches in the order they came.

    gmqtt calls `on_message` for each PUBLISH, in order, and sends its PUBACK when it returns: the
    reading waits until the batch it is taken in with is stored. The gateways are split into PARTITIONS
    (by their id), each with its own batches, so that one partition's batch is judged while another's
    waits on MongoDB; a device speaks through its one gateway, so its readings stay in one partition, in
    order. A batch is whatever arrived in its partition while the last one was being stored, up to
    BATCH, with no waiting for one to fill (a lone reading is taken in at once)."""

    def __init__(self, runtime: TelemetryRuntime) -> None:
        self.runtime = runtime
        self.partitions: list[asyncio.Queue[tuple[Arrival | None, asyncio.Future[None]]]] = [
            asyncio.Queue() for _ in range(PARTITIONS)
        ]
        self.waiting: set[asyncio.Future[None]] = set()

    async def on_message(
        self, client: gmqtt.Client, topic: str, payload: bytes, qos: int, properties: dict[str, object]
    ) -> int:
        gateway_id = gateway_of(topic, self.runtime.settings.mqtt_topic_root)
        taken_in = asyncio.get_running_loop().create_future()
        self.waiting.add(taken_in)
        # A topic that is no gateway's (the broker's access list lets gateways publish nowhere else) is
        # acknowledged with its batch and skipped.
        partition = self.partitions[zlib.crc32((gateway_id or "").encode()) % PARTITIONS]
        partition.put_nowait((Arrival(payload, "mqtt", gateway_id) if gateway_id else None, taken_in))
        await taken_in
        return 0  # PUBACK: success

    async def take_in_batches(self) -> None:
        async with asyncio.TaskGroup() as partitions:
            for arrived in self.partitions:
                partitions.create_task(self._take_in_partition(arrived))

    async def _take_in_partition(self, arrived: asyncio.Queue[tuple[Arrival | None, asyncio.Future[None]]]) -> None:
        while True:
            batch = [await arrived.get()]
            while len(batch) < BATCH and not arrived.empty():
                batch.append(arrived.get_nowait())
            await take_in_batch(self.runtime, [arrival for arrival, _ in batch if arrival is not None])
            for _, taken_in in batch:
                self.waiting.discard(taken_in)
                taken_in.set_result(None)

    def abandon(self) -> None:
        """The client is disconnected: the readings not taken in get no PUBACK (their handlers end and
        write to a closed connection, which gmqtt only logs), so the broker hands them over again."""
        unacknowledged = [taken_in for taken_in in self.waiting if not taken_in.done()]
        for taken_in in unacknowledged:
            taken_in.set_result(None)
        self.waiting.clear()
        if unacknowledged:
            log.warning(
                "MQTT connection closed with %d readings unacknowledged: the broker hands them over again",
                len(unacknowledged),
            )


async def take_in_batch(runtime: TelemetryRuntime, arrivals: list[Arrival]) -> None:
    """Take a batch in. MongoDB away: the batch is tried again until it answers (its readings stay
    unacknowledged meanwhile, and the next ones wait in the broker). A fault of this service (not of a
    reading: those are rejected, not raised) fails the batch: its readings are then taken in one by one,
    so only the one that meets the fault is logged and skipped."""
    try:
        await _through_outages(runtime, arrivals)
    except Exception:
        if len(arrivals) == 1:
            log.exception("reading from gateway %s could not be handled; skipped", arrivals[0].gateway_id)
            return
        for arrival in arrivals:
            try:
                await _through_outages(runtime, [arrival])
            except Exception:
                log.exception("reading from gateway %s could not be handled; skipped", arrival.gateway_id)


async def _through_outages(runtime: TelemetryRuntime, arrivals: list[Arrival]) -> None:
    while True:
        try:
            await take_in_all(runtime, arrivals)
            return
        except Exception as error:
            if not is_outage(error):
                raise
            log.warning("MongoDB unavailable (%s): MQTT intake paused for %.0f s", error, RECONNECT_SECONDS)
            await asyncio.sleep(RECONNECT_SECONDS)
