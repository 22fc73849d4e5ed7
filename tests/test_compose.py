"""docker-compose.yml and the Dockerfile stay consistent with the code (no Docker engine is needed).

Every service is built from the one root Dockerfile with its own SERVICE, sets only environment
variables that the kit's settings read (or OpenTelemetry's own), has the required ones, waits for healthy
infrastructure and sends traces to Jaeger.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from compressor_kit.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"intake": 8001, "dispatch": 8002, "maintenance": 8003, "quality": 8004, "reporting": 8005, "feedback": 8006}
INFRA_IMAGES = {
    "rabbitmq": "rabbitmq:3-management",
    "mongo": "mongo:7",
    "minio": "minio/minio",
    "jaeger": "jaegertracing/all-in-one",
}
HEALTHY_DEPENDENCIES = ("rabbitmq", "mongo", "minio")
REQUIRED_ENV = (
    "RABBITMQ_URL",
    "MONGODB_URL",
    "S3_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "JWT_SIGNING_KEYS",
    "ENVIRONMENT",
    "HTTP_PORT",
)
SECRET_ENV = ("JWT_SIGNING_KEYS", "S3_SECRET_KEY", "S3_ACCESS_KEY")
# ${NAME:?message}: compose refuses to start while NAME is unset, so no default secret can slip through.
REQUIRED_INTERPOLATION = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def as_dict(value: dict | list | None) -> dict:
    """Compose accepts both `KEY: value` mappings and `KEY=value` lists."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return dict(item.split("=", 1) if "=" in item else (item, None) for item in value)


def environment(compose: dict, name: str) -> dict:
    return as_dict(compose["services"][name].get("environment"))


def test_the_six_services_and_the_infrastructure_are_declared(compose):
    assert set(SERVICES) | set(INFRA_IMAGES) <= set(compose["services"])


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_built_from_the_root_dockerfile_with_its_name(compose, name):
    build = compose["services"][name].get("build")
    assert isinstance(build, dict), f"{name}: build must be a mapping with context and args"
    assert (ROOT / build.get("context", ".")).resolve() == ROOT
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert as_dict(build.get("args")).get("SERVICE") == name
    assert (ROOT / "services" / name / "src" / f"{name}_service" / "__main__.py").is_file()


@pytest.mark.parametrize("name", SERVICES)
def test_service_sets_only_variables_the_settings_read(compose, name):
    fields = set(Settings.model_fields)
    unknown = [key for key in environment(compose, name) if key.lower() not in fields and not key.startswith("OTEL_")]
    assert not unknown, f"{name}: not read by compressor_kit.settings.Settings: {unknown}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_sets_the_required_variables(compose, name):
    env = environment(compose, name)
    missing = [key for key in REQUIRED_ENV if env.get(key) in (None, "")]
    assert not missing, f"{name}: missing {missing}"
    assert str(env["HTTP_PORT"]) == str(SERVICES[name])
    assert str(SERVICES[name]) in [str(port).rsplit(":", 1)[-1] for port in compose["services"][name].get("ports", [])]


@pytest.mark.parametrize("name", SERVICES)
def test_service_secrets_come_from_the_environment(compose, name):
    env = environment(compose, name)
    for key in SECRET_ENV:
        assert REQUIRED_INTERPOLATION.match(str(env.get(key))), f"{name}: {key} must be ${{{key}:?...}}, not a literal"
    assert re.search(r"\$\{RABBITMQ_PASSWORD:\?", str(env.get("RABBITMQ_URL"))), f"{name}: broker password hard-coded"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_healthy_infrastructure(compose, name):
    depends_on = compose["services"][name].get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a plain list"
    for dependency in HEALTHY_DEPENDENCIES:
        assert (depends_on.get(dependency) or {}).get("condition") == "service_healthy", f"{name} -> {dependency}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_health_is_its_readiness_endpoint(compose, name):
    test = compose["services"][name].get("healthcheck", {}).get("test")
    assert "/health/ready" in " ".join(test if isinstance(test, list) else [str(test)])


@pytest.mark.parametrize("name", SERVICES)
def test_service_sends_traces_to_jaeger(compose, name):
    endpoint = urlparse(str(environment(compose, name).get("OTEL_EXPORTER_OTLP_ENDPOINT")))
    assert (endpoint.scheme, endpoint.hostname, endpoint.port) == ("http", "jaeger", 4318)


@pytest.mark.parametrize("name", INFRA_IMAGES)
def test_infrastructure_images(compose, name):
    image = compose["services"][name]["image"]
    expected = INFRA_IMAGES[name]
    assert image == expected or image.startswith(expected + ":"), f"{name}: {image}"


@pytest.mark.parametrize("name", HEALTHY_DEPENDENCIES)
def test_infrastructure_has_a_healthcheck(compose, name):
    assert compose["services"][name].get("healthcheck", {}).get("test"), name


def test_mongo_runs_the_replica_set_that_the_services_name(compose):
    mongo = compose["services"]["mongo"]
    command = mongo["command"] if isinstance(mongo["command"], list) else mongo["command"].split()
    assert command[command.index("--replSet") + 1] == "rs0"
    assert "rs.initiate" in str(mongo["healthcheck"]["test"])
    for name in SERVICES:
        assert "replicaSet=rs0" in environment(compose, name)["MONGODB_URL"]


def test_jaeger_accepts_otlp(compose):
    jaeger = compose["services"]["jaeger"]
    assert str(as_dict(jaeger.get("environment")).get("COLLECTOR_OTLP_ENABLED")).lower() == "true"
    published = {str(port).split(":")[-1] for port in jaeger.get("ports", [])}
    assert {"16686", "4317", "4318"} <= published


def test_dockerfile_builds_any_service_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    images = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert images and all(image == "python:3.11-slim" for image in images), images
    assert re.search(r"^ARG SERVICE\b", dockerfile, re.M)
    for package in ("./libs/contracts", "./libs/kit", "./services/${SERVICE}"):
        assert package in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^CMD .*python -m \\?\"?\$\{SERVICE\}_service", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK .*", dockerfile, re.M)


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", "var", ".git"} <= ignored
    assert ignored & {"__pycache__", "**/__pycache__"}
