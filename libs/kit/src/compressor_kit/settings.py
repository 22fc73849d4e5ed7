"""Settings read from the environment.

The defaults match the local stack that `make infra-up` starts, but they are accepted only where
ENVIRONMENT says local or test explicitly (`make run`, the demo, the tests do). Without ENVIRONMENT a
service is in production and refuses every secret that ships in this repository (see `check_production`):
a forgotten variable fails closed.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SIGNING_KEYS = "dev:local-development-signing-key-change-me"
MIN_SIGNING_SECRET_BYTES = 32
"""HS256 secrets shorter than this are refused (RFC 7518 3.2: a key at least as long as the hash)."""
DEV_S3_SECRET = "local-dev-secret"
# The local identity provider's client secret (infra/idp/seed.json); production refuses it.
DEV_CLIENT_SECRET = "local-development-client-secret"
LOCAL_ISSUER = "http://127.0.0.1:9400"


class Settings(BaseSettings):
    """One service's configuration. Field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    environment: Literal["local", "test", "production"] = Field(
        "production",
        description="local or test accept the development defaults; unset means production (fails closed)",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, description="0 means the service's own default port")
    log_level: str = "INFO"

    rabbitmq_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    rabbitmq_urls: SecretStr = Field(
        SecretStr(""),
        description="the cluster's other nodes: comma-separated amqp URLs, tried in turn after RABBITMQ_URL when "
        "the node in use is lost or unreachable (each URL with the same user and vhost)",
    )
    rabbitmq_prefetch: int = Field(16, ge=1, le=1000)
    consumer_max_attempts: int = Field(5, ge=1, le=9, description="deliveries before dead-lettering")
    consumer_retry_backoff_seconds: float = Field(0.2, ge=0)
    consumer_outage_hold_seconds: float = Field(
        600.0,
        gt=0,
        description="how long a consumer holds an event unacknowledged while MongoDB is unavailable, trying it "
        "again, before putting it back in its queue (no attempt spent); keep it well below RabbitMQ's "
        "consumer_timeout (30 min by default)",
    )
    consumer_outage_retry_seconds: float = Field(
        5.0, gt=0, description="longest pause between two tries of a held event: how soon consumption resumes"
    )
    rabbitmq_publisher_users: str = Field(
        "{service}",
        pattern=r"\{service\}",
        description="each service's broker user, {service} standing for its name (infra/access.py creates them so): "
        "a consumed event must carry its producer's user in user_id, unless this service connects as guest",
    )

    mongodb_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/?replicaSet=rs0")
    mongodb_database: str = Field("", description="this service's database; empty means prefix + service name")
    mongodb_database_prefix: str = Field(
        "", description="prefix of every service's database name (one deployment's databases side by side)"
    )
    mongodb_timeout_ms: int = 3000
    mongodb_transaction_timeout_seconds: float = Field(
        15.0,
        gt=0,
        description="longest time one transaction may take with its retries (write conflicts, an election); "
        "then MongoDB counts as unavailable (HTTP 503, consumers hold their events)",
    )

    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "local-dev"
    s3_secret_key: SecretStr = SecretStr(DEV_S3_SECRET)
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_public_endpoint: str = Field(
        "",
        description="host[:port] that browsers and phones reach the object store at, for presigned links and "
        "upload forms only (signed here, no request made); empty means S3_ENDPOINT",
    )
    s3_public_secure: bool = Field(True, description="whether S3_PUBLIC_ENDPOINT is reached over https")
    s3_bucket_prefix: str = "compressor-"

    # Sign-in: access tokens from the OpenID Connect provider, checked against its published keys.
    oidc_issuer: str = Field(LOCAL_ISSUER, description="the issuer tokens must carry (the local provider by default)")
    oidc_discovery_url: str = Field(
        "", description="where to read the discovery document when the issuer's public URL is not reachable from here"
    )
    oidc_audience: str = Field("compressor-api", description="the one API audience every service accepts")
    oidc_roles_claim: str = Field(
        "roles", description="dotted path of the roles in a token: roles, realm_access.roles (Keycloak), groups"
    )
    oidc_role_map: str = Field(
        "", description="external=role pairs, comma-separated, applied to the roles claim (groups to roles)"
    )
    oidc_subject_claim: str = Field("sub", description="the claim holding the staff or customer id")
    oidc_algorithms: str = Field("RS256,ES256,PS256", description="asymmetric signature algorithms accepted")
    oidc_leeway_seconds: int = Field(30, ge=0, le=300, description="clock skew allowed on exp, nbf and iat")
    oidc_max_token_lifetime_seconds: int = Field(7200, ge=60, description="longest exp - iat accepted")
    oidc_keys_refresh_interval_seconds: float = Field(
        60.0, ge=0, description="at most one key refresh per interval on an unknown kid"
    )
    # Machine callers (dead-letter replay, backups, the demo driver) sign in with client credentials.
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = Field(SecretStr(DEV_CLIENT_SECRET), description="the machine client's secret")

    jwt_signing_keys: SecretStr = Field(
        SecretStr(""),
        description="HS256 kid:secret pairs for ENVIRONMENT=local|test only (empty: the development key)",
    )

    outbox_poll_interval_seconds: float = Field(0.5, gt=0)
    outbox_lease_seconds: float = Field(10.0, gt=0)
    outbox_max_attempts: int = Field(
        10, ge=1, le=100, description="refusals of one event before it is parked as stuck (and alerted)"
    )
    outbox_retry_first_delay_seconds: float = Field(1.0, gt=0, description="wait after an event's first refusal")
    outbox_retry_max_delay_seconds: float = Field(300.0, gt=0, description="longest wait between an event's attempts")
    outbox_stuck_retry_seconds: float = Field(
        3600.0,
        gt=0,
        description="how long an event stays parked as stuck before the relay gives it a fresh round of attempts "
        "by itself (alerting again if they fail too)",
    )

    def database_name(self, service: str) -> str:
        """The database of `service` (this one's, or another's, e.g. for backups)."""
        return self.mongodb_database or f"{self.mongodb_database_prefix}{service}"

    def bucket(self, name: str) -> str:
        return f"{self.s3_bucket_prefix}{name}"

    @property
    def development(self) -> bool:
        return self.environment in ("local", "test")

    def development_signing_keys(self) -> str | None:
        """HS256 keys for `compressor-token` and tests, in local and test environments only."""
        if not self.development:
            return None
        return self.jwt_signing_keys.get_secret_value() or DEV_JWT_SIGNING_KEYS

    def discovery_url(self) -> str:
        return self.oidc_discovery_url or self.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"

    def check_production(self) -> None:
        """Refuse to start (RuntimeError) in production, which an unset ENVIRONMENT means, with a secret
        that ships in this repository or with development sign-in; in local and test, with a development
        signing secret too short to be one."""
        if self.development:
            problem = signing_keys_problem(self.jwt_signing_keys.get_secret_value() or DEV_JWT_SIGNING_KEYS)
            if problem:
                raise RuntimeError(f"refusing to start: {problem}")
            return
        problems = []
        if self.jwt_signing_keys.get_secret_value():
            problems.append("JWT_SIGNING_KEYS is set (HS256 development tokens; production trusts OIDC_ISSUER only)")
        if urlsplit(self.oidc_issuer).scheme != "https":
            problems.append("OIDC_ISSUER must be the identity provider's https URL")
        if self.oidc_client_id and self.oidc_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
            problems.append("OIDC_CLIENT_SECRET is the local provider's development secret")
        if self.s3_secret_key.get_secret_value() == DEV_S3_SECRET:
            problems.append("S3_SECRET_KEY is the development default")
        broker = urlsplit(self.rabbitmq_url.get_secret_value())
        if broker.username in (None, "", "guest"):
            problems.append("RABBITMQ_URL uses the guest account (set the service's own broker user)")
        if problems and "environment" not in self.model_fields_set:
            problems.append("ENVIRONMENT is unset, which means production (set ENVIRONMENT=local to develop)")
        if problems:
            raise RuntimeError("refusing to start in production: " + "; ".join(problems))


def broker_nodes(settings: Settings) -> list[str]:
    """Every RabbitMQ node this service may connect to, in the order tried: RABBITMQ_URL, then RABBITMQ_URLS."""
    others = [url.strip() for url in settings.rabbitmq_urls.get_secret_value().split(",")]
    return [settings.rabbitmq_url.get_secret_value(), *filter(None, others)]


def parse_signing_keys(raw: str) -> dict[str, str]:
    """JWT_SIGNING_KEYS: comma-separated `kid:secret` pairs, each secret at least 32 bytes."""
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        kid, sep, secret = pair.partition(":")
        if not sep or not kid or len(secret.encode()) < MIN_SIGNING_SECRET_BYTES:
            raise ValueError(
                "JWT_SIGNING_KEYS must be comma-separated kid:secret pairs, "
                f"secrets of {MIN_SIGNING_SECRET_BYTES}+ bytes"
            )
        keys[kid] = secret
    if not keys:
        raise ValueError("JWT_SIGNING_KEYS is empty")
    return keys


def signing_keys_problem(raw: str) -> str | None:
    """What is wrong with JWT_SIGNING_KEYS (never the secrets themselves), or None."""
    try:
        parse_signing_keys(raw)
    except ValueError as error:
        return str(error)
    return None
