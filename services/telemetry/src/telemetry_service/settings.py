"""Telemetry's own settings, on top of the kit's (field names are the environment variable names)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from compressor_kit.runtime import Runtime
from compressor_kit.settings import Settings

# infra/mosquitto.sh's telemetry user: refused in production.
DEV_MQTT_PASSWORD = "local-development-password"  # noqa: S105


class TelemetrySettings(Settings):
    telemetry_retention_days: int = Field(
        400, ge=1, le=3650, description="Days readings are kept (the time-series collection's expiry)."
    )
    telemetry_rejections_keep_days: int = Field(30, ge=1, le=365, description="Days rejected readings stay visible.")
    telemetry_service_lead_days: int = Field(
        14, ge=0, le=365, description="Days before a service level is due that its proactive request is raised."
    )
    telemetry_default_hours_per_day: float = Field(
        16.0, gt=0, le=24, description="Running hours a day assumed until a machine's own use is known."
    )
    telemetry_future_minutes: int = Field(5, ge=0, le=1440, description="How far ahead of now a reading's time may be.")
    telemetry_past_days: int = Field(30, ge=1, le=3650, description="How far back a reading's time may be.")
    telemetry_alarm_grace_seconds: int = Field(
        600, ge=0, le=86_400, description="How long a warning must persist before it raises a request."
    )
    telemetry_alarm_flap_seconds: int = Field(
        3600,
        ge=0,
        le=7 * 86_400,
        description="An alarm that returns within this long after clearing is the same episode (one request).",
    )
    telemetry_silence_days: int = Field(
        3, ge=1, le=365, description="Days without a reading after which management hears the machine went silent."
    )
    telemetry_silence_check_seconds: float = Field(
        3600.0, gt=0, description="How often the devices are checked for silence."
    )
    telemetry_modbus_poll_seconds: float = Field(
        60.0, gt=0, le=86_400, description="How often each controller with a Modbus address is read."
    )
    telemetry_modbus_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="How long one controller's poll may take before it counts as not answering."
    )
    mqtt_url: str = Field(
        "",
        description="MQTT broker the site gateways publish to: mqtts://host:8883 (TLS, the server's certificate "
        "checked against the system's CAs or SSL_CERT_FILE) or mqtt://host:1883 (plain, for a broker on the "
        "same host or network); empty: no MQTT intake.",
    )
    mqtt_username: str = Field("telemetry", description="Telemetry's own MQTT user (subscribes to every gateway).")
    mqtt_password: SecretStr = Field(SecretStr(""), description="Telemetry's MQTT password.")
    mqtt_client_id: str = Field(
        "",
        description="The MQTT client id of telemetry's one session, the same for every replica (the one holding "
        "the intake lease connects); empty: the MQTT user's name.",
    )
    mqtt_topic_root: str = Field("gateways", description="Gateways publish under <root>/<gateway id>/readings.")

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, url: str) -> str:
        if url:
            address = urlsplit(url)
            if address.scheme not in ("mqtt", "mqtts") or not address.hostname:
                raise ValueError("MQTT_URL must be mqtts://host[:port] or mqtt://host[:port]")
        return url

    def check_production(self) -> None:
        super().check_production()
        if self.environment == "production" and self.mqtt_password.get_secret_value() == DEV_MQTT_PASSWORD:
            raise RuntimeError(
                "refusing to start in production: MQTT_PASSWORD is the local broker's development password"
            )


TelemetryRuntime = Runtime[TelemetrySettings]
"""The running telemetry service."""
