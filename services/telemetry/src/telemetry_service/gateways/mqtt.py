"""Readings from site gateways over MQTT.

Each gateway has its own MQTT user and may publish only under `<root>/<its id>/readings` (the broker's
access list says so, `infra/mosquitto/`); the gateway id this service trusts is the topic's, which the
broker checked, never a field of the payload. Telemetry subscribes with a persistent session and QoS 1,
and acknowledges a message only once the reading was taken in: readings published while the service
was down wait in the broker, and one whose handling was cut short is delivered again (and recognised
as a duplicate if it had been taken in).

Readings are taken in in batches, in the order they came: whatever arrived while the last batch was
being stored, up to BATCH (readings/intake.py stores a batch with a handful of MongoDB round trips,
where one at a time each took about nine). MQTT 5's receive maximum lets the broker hand over the next
batch's readings meanwhile, unacknowledged. A device publishes through its one gateway, and its readings
are judged in order (the counters, the last reading, the alarm episodes). Several replicas share one
subscription (each reading goes to one of them); the order of one gateway's readings then holds per
replica only, and a reading judged before an earlier one is taken as a late one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from compressor_kit.retry import is_outage
from telemetry_service.readings.intake import Arrival, take_in_all
from telemetry_service.settings import TelemetryRuntime, TelemetrySettings

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 2.0
BATCH = 500  # readings taken in together at most
RECEIVE_MAXIMUM = 2 * BATCH  # unacknowledged readings the broker may hand over: a batch stored, the next one arriving
# How long the broker keeps a replica's session (its subscription and the readings waiting for it) while
# the replica is away: readings wait through a restart or an outage; a replica gone for good (replaced
# under another name) stops taking its share after this.
SESSION_EXPIRY_SECONDS = 2 * 86_400


def gateway_of(topic: str, root: str) -> str | None:
    """The gateway id in `<root>/<gateway id>/readings`, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == root and parts[2] == "readings" and parts[1]:
        return parts[1]
    return None


def client_id(settings: TelemetrySettings) -> str:
    """MQTT_CLIENT_ID, else one per host and port: each replica keeps its own persistent session across
    restarts, and two replicas never take each other's (the broker drops a client whose id reconnects)."""
    instance = settings.http_port or os.getpid()  # port 0: the operating system picks one per start
    return settings.mqtt_client_id or f"{settings.mqtt_username}-{socket.gethostname()}-{instance}"


def connect_properties() -> Properties:
    """MQTT 5 CONNECT properties: the receive maximum, and a session that outlives the connection."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS
    return properties


async def listen(runtime: TelemetryRuntime) -> None:
    """Take in every gateway's readings for as long as the service runs; a lost broker is waited for."""
    settings = runtime.settings
    if not settings.mqtt_url:
        log.info("MQTT_URL is empty: no MQTT intake")
        return
    address = urlsplit(settings.mqtt_url)
    while True:
        try:
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
                # aiomqtt leaves paho's automatic acknowledgement on (on receipt, before the reading is
                # stored); acknowledge by hand after it is taken in instead.
                client._client.manual_ack_set(True)
                # A shared subscription: replicas split the readings between them, each reading to one.
                await client.subscribe(f"$share/{settings.mqtt_username}/{settings.mqtt_topic_root}/+/readings", qos=1)
                log.info("MQTT intake subscribed at %s", settings.mqtt_url)
                await _handle_all(runtime, client)
        except aiomqtt.MqttError as error:
            log.warning("MQTT broker unavailable (%s); reconnecting in %.0f s", error, RECONNECT_SECONDS)
        except Exception as error:
            if not is_outage(error):
                raise
            # MongoDB is away: the unacknowledged readings stay with the broker, which hands them over
            # again on the next connection, and the rest wait there meanwhile.
            log.warning("MongoDB unavailable (%s): MQTT intake paused for %.0f s", error, RECONNECT_SECONDS)
        await asyncio.sleep(RECONNECT_SECONDS)


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
