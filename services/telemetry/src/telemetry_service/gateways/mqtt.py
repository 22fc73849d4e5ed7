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
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from compressor_kit.lease import Lease, LeaseLost
from compressor_kit.retry import is_outage
from telemetry_service.gateways import store
from telemetry_service.readings.intake import Arrival, take_in_all
from telemetry_service.settings import TelemetryRuntime, TelemetrySettings

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 2.0
LEASE_SECONDS = 15.0  # a holder that stops renewing (stopped, cut off) hands the intake over after this
BATCH = 500  # readings taken in together at most
RECEIVE_MAXIMUM = 2 * BATCH  # unacknowledged readings the broker may hand over: a batch stored, the next one arriving
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


def connect_properties() -> Properties:
    """MQTT 5 CONNECT properties: the receive maximum, and a session that outlives the connection."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
    return properties


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
            except aiomqtt.MqttError as error:
                log.warning("MQTT broker unavailable (%s); reconnecting in %.0f s", error, RECONNECT_SECONDS)
            except LeaseLost:
                log.warning("MQTT intake lease not renewed in time: disconnected, another replica may take over")
            except Exception as error:
                if not is_outage(error):
                    raise
                # MongoDB is away: the unacknowledged readings stay with the broker, which hands them
                # over again on the next connection, and the rest wait there meanwhile.
                log.warning("MongoDB unavailable (%s): MQTT intake paused for %.0f s", error, RECONNECT_SECONDS)
            await asyncio.sleep(RECONNECT_SECONDS if lease.held else LEASE_SECONDS / 3)
    finally:
        if lease.held:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lease.release(), timeout=2)  # the next replica takes over at once


async def _take_in_while_held(runtime: TelemetryRuntime, lease: Lease) -> None:
    settings = runtime.settings
    address = urlsplit(settings.mqtt_url)
    async with aiomqtt.Client(
        address.hostname or "127.0.0.1",
        address.port or 1883,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() or None,
        identifier=client_id(settings),
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=connect_properties(),
    ) as client:
        # aiomqtt leaves paho's automatic acknowledgement on (on receipt, before the reading is stored);
        # acknowledge by hand after it is taken in instead.
        client._client.manual_ack_set(True)
        await client.subscribe(f"{settings.mqtt_topic_root}/+/readings", qos=1)
        log.info("MQTT intake subscribed at %s as %s", settings.mqtt_url, client_id(settings))
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(_keep_holding(lease))
                tasks.create_task(_handle_all(runtime, client))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None


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


async def _handle_all(runtime: TelemetryRuntime, client: aiomqtt.Client) -> None:
    """Every message as it comes, in batches of what arrived meanwhile (no waiting for a batch to fill:
    a lone reading is taken in at once). An outage or a lost connection stops the lot (the
    unacknowledged come again on the next connection)."""
    arrived: asyncio.Queue[aiomqtt.Message | None] = asyncio.Queue()

    async def receive() -> None:
        async for message in client.messages:
            arrived.put_nowait(message)
        arrived.put_nowait(None)  # the messages ended (a test's client; a real one raises MqttError)

    try:
        async with asyncio.TaskGroup() as tasks:
            receiving = tasks.create_task(receive())
            while True:
                batch = [await arrived.get()]
                while batch[-1] is not None and len(batch) < BATCH and not arrived.empty():
                    batch.append(arrived.get_nowait())
                messages = [message for message in batch if message is not None]
                if messages:
                    await _handle(runtime, client, messages)
                if batch[-1] is None:
                    break
            await receiving
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


async def _handle(runtime: TelemetryRuntime, client: aiomqtt.Client, messages: list[aiomqtt.Message]) -> None:
    """Take a batch in, then acknowledge each of its messages. A fault of this service (not of a
    reading: those are rejected, not raised) fails the batch: its readings are then taken in one by one,
    so only the one that meets the fault is logged and skipped."""
    arrivals = []
    for message in messages:
        gateway_id = gateway_of(str(message.topic), runtime.settings.mqtt_topic_root)
        if gateway_id is not None:  # the broker's access list lets gateways publish nowhere else
            payload = message.payload if isinstance(message.payload, bytes | str) else str(message.payload)
            arrivals.append(Arrival(payload, "mqtt", gateway_id))
    try:
        await take_in_all(runtime, arrivals)
    except Exception as error:
        if is_outage(error) or len(arrivals) == 1:
            _skip_or_raise(error, arrivals)
        else:
            for arrival in arrivals:
                try:
                    await take_in_all(runtime, [arrival])
                except Exception as alone:
                    _skip_or_raise(alone, [arrival])
    for message in messages:
        if message.qos > 0:
            client._client.ack(message.mid, message.qos)


def _skip_or_raise(error: Exception, arrivals: list[Arrival]) -> None:
    if is_outage(error):
        raise error
    # A fault of this service, not of the reading: logged loudly, and the stream goes on.
    log.exception("reading from gateway %s could not be handled; acknowledged and skipped", arrivals[0].gateway_id)
