"""Readings from site gateways over MQTT.

Each gateway has its own MQTT user and may publish only under `<root>/<its id>/readings` (the broker's
access list says so, `infra/mosquitto/`); the gateway id this service trusts is the topic's, which the
broker checked, never a field of the payload. Telemetry subscribes with a persistent session and QoS 1,
and acknowledges a message only once the reading was taken in: readings published while the service
was down wait in the broker, and one whose handling was cut short is delivered again (and recognised
as a duplicate if it had been taken in).

Readings are handled several at a time (each waits mostly on MongoDB), but one gateway's one at a
time, in the order they came: a device publishes through its one gateway, and its readings must be
judged in order (the counters, the last reading, the alarm episodes). Several replicas share one
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

from compressor_kit.retry import is_outage
from telemetry_service.readings.intake import take_in
from telemetry_service.settings import TelemetryRuntime, TelemetrySettings

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 2.0
IN_FLIGHT = 16  # readings handled at once; Mosquitto hands a subscriber at most 20 unacknowledged


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
                clean_session=False,
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
            # MongoDB is away: the unacknowledged reading stays with the broker, which hands it over
            # again on the next connection, and the rest wait there meanwhile.
            log.warning("MongoDB unavailable (%s): MQTT intake paused for %.0f s", error, RECONNECT_SECONDS)
        await asyncio.sleep(RECONNECT_SECONDS)


async def _handle_all(runtime: TelemetryRuntime, client: aiomqtt.Client) -> None:
    """Every message as it comes, IN_FLIGHT at a time, each gateway's in turn. An outage or a lost
    connection met by one stops them all (the unacknowledged come again on the next connection)."""
    in_flight = asyncio.Semaphore(IN_FLIGHT)

    async def handle_in_turn(message: aiomqtt.Message) -> None:
        try:
            async with runtime.turns.turn(f"mqtt:{message.topic}"):
                await _handle(runtime, client, message)
        finally:
            in_flight.release()

    try:
        async with asyncio.TaskGroup() as handling:
            async for message in client.messages:
                await in_flight.acquire()
                # Tasks start in the order created, so each gateway's turns are taken in arrival order.
                handling.create_task(handle_in_turn(message))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


async def _handle(runtime: TelemetryRuntime, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    gateway_id = gateway_of(str(message.topic), runtime.settings.mqtt_topic_root)
    payload = message.payload if isinstance(message.payload, bytes | str) else str(message.payload)
    if gateway_id is not None:
        try:
            await take_in(runtime, payload, source="mqtt", gateway_id=gateway_id)
        except Exception as error:
            if is_outage(error):
                raise
            # A fault of this service, not of the reading: logged loudly, and the stream goes on.
            log.exception("reading from gateway %s could not be handled; acknowledged and skipped", gateway_id)
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)
