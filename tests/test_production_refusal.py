"""Started with production settings and a secret that ships in this repository, a real service process
refuses to start, says why in its log and exits non-zero (before serving or connecting anything)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from compressor_kit.settings import DEV_JWT_SIGNING_KEYS, DEV_S3_SECRET
from compressor_kit.testing.ports import free_port

STRONG = {
    "OIDC_ISSUER": "https://login.example.com/realms/compressor",
    "JWT_SIGNING_KEYS": "",
    "S3_SECRET_KEY": "s" * 40,
    "RABBITMQ_URL": "amqp://{service}:" + "p" * 24 + "@127.0.0.1:5672/compressor",
}
CASES = {
    # service: (the default secret it is given, the reason expected in its log)
    # HS256 development tokens of any key: production trusts the identity provider's keys only.
    "intake": ({"JWT_SIGNING_KEYS": DEV_JWT_SIGNING_KEYS}, "JWT_SIGNING_KEYS is set"),
    "dispatch": ({"S3_SECRET_KEY": DEV_S3_SECRET}, "S3_SECRET_KEY is the development default"),
    "feedback": ({"RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/"}, "RABBITMQ_URL uses the guest account"),
    "reporting": ({"JWT_SIGNING_KEYS": "k1:" + "z" * 40}, "JWT_SIGNING_KEYS is set"),
    "quality": ({"OIDC_ISSUER": None}, "OIDC_ISSUER must be the identity provider's https URL"),  # the local one
    "maintenance": ({"S3_SECRET_KEY": None}, "S3_SECRET_KEY is the development default"),  # unset: the default
    "telemetry": ({"MQTT_PASSWORD": "local-development-password"}, "MQTT_PASSWORD is the local broker's development"),
    # The console's own client secret, unset: the local provider's development secret.
    "console": ({"CONSOLE_CLIENT_SECRET": None}, "CONSOLE_CLIENT_SECRET is the local provider's development secret"),
}


@pytest.mark.slow
@pytest.mark.parametrize("service", CASES)
def test_a_service_refuses_to_start_in_production_with_a_default_secret(service):
    weak, reason = CASES[service]
    env = {key: value for key, value in os.environ.items() if key not in STRONG and not key.startswith("S3_")}
    env.update({key: value.format(service=service) for key, value in STRONG.items()})
    env.update(ENVIRONMENT="production", HTTP_PORT=str(free_port()), HTTP_HOST="127.0.0.1")
    for key, value in weak.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    # A service that did not refuse would serve until killed: the timeout fails the test then.
    result = subprocess.run(
        [sys.executable, "-m", f"{service}_service"], env=env, capture_output=True, text=True, timeout=120
    )
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert "refusing to start in production" in log and reason in log, log
    assert "started" not in log.lower().replace("refusing to start", ""), log


def _started_without_environment(service: str, env: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    """The service's process with `env` (None: unset) and no ENVIRONMENT at all (the test run's removed)."""
    merged = {**os.environ, **env, "HTTP_PORT": str(free_port()), "HTTP_HOST": "127.0.0.1"}
    clean = {key: value for key, value in merged.items() if value is not None and key != "ENVIRONMENT"}
    # A service that did not refuse would serve until killed: the timeout fails the test then.
    command = [sys.executable, "-m", f"{service}_service"]
    return subprocess.run(command, env=clean, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_a_service_started_without_environment_refuses_the_development_defaults():
    """No ENVIRONMENT and the defaults a developer's shell would give: production, so it refuses the local
    provider, the development object-store key and the guest account, and says how to develop."""
    unset = ("OIDC_ISSUER", "S3_SECRET_KEY", "RABBITMQ_URL", "JWT_SIGNING_KEYS")
    env: dict[str, str | None] = dict.fromkeys(unset)
    result = _started_without_environment("dispatch", env)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert "refusing to start in production" in log, log
    for reason in ("OIDC_ISSUER", "S3_SECRET_KEY is the development default", "guest", "ENVIRONMENT is unset"):
        assert reason in log, log
    assert "started" not in log.lower().replace("refusing to start", ""), log


@pytest.mark.slow
def test_a_service_started_without_environment_refuses_the_development_signing_key():
    """Every production secret set, ENVIRONMENT forgotten, the repository's development key given: the
    development key (and so any token signed with it) is refused, by refusing to start."""
    env: dict[str, str | None] = {key: value.format(service="intake") for key, value in STRONG.items()}
    env["JWT_SIGNING_KEYS"] = DEV_JWT_SIGNING_KEYS
    env["CONSOLE_PUBLIC_URL"] = "https://console.example.com"
    result = _started_without_environment("intake", env)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert "refusing to start in production: JWT_SIGNING_KEYS is set" in log, log
    assert "ENVIRONMENT is unset" in log, log
