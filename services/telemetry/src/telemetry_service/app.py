"""Composition root of the telemetry service: everything it serves, consumes and stores, wired once."""

from compressor_kit.periodic import periodic
from compressor_kit.runtime import Runtime, ServiceDefinition
from telemetry_service.alarms import store as alarms_store
from telemetry_service.devices import api as devices_api
from telemetry_service.devices import consumers as devices_consumers
from telemetry_service.devices import store as devices_store
from telemetry_service.gateways import mqtt
from telemetry_service.modbus import api as modbus_api
from telemetry_service.modbus import store as modbus_store
from telemetry_service.modbus.poller import poll_round
from telemetry_service.readings import api as readings_api
from telemetry_service.readings import store as readings_store
from telemetry_service.settings import TelemetrySettings
from telemetry_service.silence import store as silence_store
from telemetry_service.silence.watch import report_silent_devices


async def create_readings_collection(runtime: Runtime[TelemetrySettings]) -> None:
    await readings_store.ensure_readings_collection(runtime, runtime.settings.telemetry_retention_days)


SERVICE = ServiceDefinition(
    name="telemetry",
    default_port=8007,
    description="Phase 1 from the machines: controller readings in (MQTT, Modbus, uploads); service due, alarms out.",
    settings_type=TelemetrySettings,
    route_handlers=[*devices_api.ROUTES, *readings_api.ROUTES, *modbus_api.ROUTES],
    consumers=[devices_consumers.consumers],
    indexes={
        **devices_store.INDEXES,
        **readings_store.INDEXES,
        **alarms_store.INDEXES,
        **modbus_store.INDEXES,
        **silence_store.INDEXES,
    },
    setup=[create_readings_collection],
    background_jobs=[
        mqtt.listen,
        periodic(lambda settings: settings.telemetry_modbus_poll_seconds, poll_round),
        periodic(lambda settings: settings.telemetry_silence_check_seconds, report_silent_devices),
    ],
)
