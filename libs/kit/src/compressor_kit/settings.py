"""Settings read from the environment.

Every default matches the local stack that `make infra-up` starts, so a developer needs no
configuration; production deployments set every secret explicitly (see `check_production`).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SIGNING_KEYS = "dev:local-development-signing-key-change-me"
DEV_S3_SECRET = "local-dev-secret"


class Settings(BaseSettings):
    """One service's configuration. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    environment: Literal["local", "test", "production"] = "local"
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, description="0 means the service's own default port")
    log_level: str = "INFO"

    rabbitmq_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    rabbitmq_prefetch: int = Field(16, ge=1, le=1000)
    consumer_max_attempts: int = Field(5, ge=1, le=9, description="deliveries before dead-lettering")
    consumer_retry_backoff_seconds: float = Field(0.2, ge=0)

    mongodb_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/?replicaSet=rs0")
    mongodb_database: str = Field("", description="this service's database; empty means prefix + service name")
    mongodb_database_prefix: str = Field(
        "", description="prefix of every service's database name (one deployment's databases side by side)"
    )
    mongodb_timeout_ms: int = 3000

    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "local-dev"
    s3_secret_key: SecretStr = SecretStr(DEV_S3_SECRET)
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_bucket_prefix: str = "compressor-"

    jwt_signing_keys: SecretStr = Field(
        SecretStr(DEV_JWT_SIGNING_KEYS),
        description="comma-separated kid:secret pairs; the first signs, all verify (rotation)",
    )
    jwt_issuer: str = "compressor-service"
    jwt_audience: str = "compressor-service"

    outbox_poll_interval_seconds: float = Field(0.5, gt=0)
    outbox_lease_seconds: float = Field(10.0, gt=0)

    def database_name(self, service: str) -> str:
        """The database of `service` (this one's, or another's, e.g. for backups)."""
        return self.mongodb_database or f"{self.mongodb_database_prefix}{service}"

    def bucket(self, name: str) -> str:
        return f"{self.s3_bucket_prefix}{name}"

    def check_production(self) -> None:
        """Refuse to run in production with a secret that ships in this repository."""
        if self.environment != "production":
            return
        problems = []
        dev_jwt_secret = DEV_JWT_SIGNING_KEYS.partition(":")[2]
        # Any key of the list: with rotation, a development key left in second place still verifies tokens.
        jwt_secrets = [pair.partition(":")[2].strip() for pair in self.jwt_signing_keys.get_secret_value().split(",")]
        if dev_jwt_secret in jwt_secrets:
            problems.append("JWT_SIGNING_KEYS contains the development default key")
        if self.s3_secret_key.get_secret_value() == DEV_S3_SECRET:
            problems.append("S3_SECRET_KEY is the development default")
        broker = urlsplit(self.rabbitmq_url.get_secret_value())
        if broker.username in (None, "", "guest"):
            problems.append("RABBITMQ_URL uses the guest account (set the service's own broker user)")
        if problems:
            raise RuntimeError("refusing to start in production: " + "; ".join(problems))
