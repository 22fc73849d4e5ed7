"""docker-compose.yml and the Dockerfile stay consistent with the code (no Docker engine is needed).

Every service is built from the one root Dockerfile with its own SERVICE, sets only environment
variables that its settings read (the kit's or the service's own, or OpenTelemetry's), has the required
ones, waits for healthy infrastructure and sends traces to Jaeger. Services trust Keycloak's tokens only
(OIDC_*; no shared HS256 secret), and Keycloak runs in production mode on its own PostgreSQL with the
realm imported from infra/keycloak/ (whose agreement with the local provider's seed is
tests/test_identity_provider_config.py's). Each service has its own broker user
and object-store key (infra/access.py): the generated files are current, the RabbitMQ permissions name
exactly the service's queues, dead-letter queue and the exchanges it uses, and each MinIO policy only its
buckets. (The permissions are proven on a real broker in tests/test_broker_permissions.py; MinIO policies
are checked here as documents only: moto does not enforce IAM policies.)

Every image can be pulled and is pinned: an exact release from a registry that serves it (MinIO is built
from source at a pinned tag and commit, infra/minio/Dockerfile). One TLS proxy (infra/proxy/Caddyfile)
publishes ports; the services trust its forwarded headers only. .env.example lists exactly the variables
compose reads, required or optional as compose treats them. A service's bounded stop ends before compose's
stop_grace_period.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from compressor_contracts import CATALOGUE
from compressor_contracts.topology import EXCHANGE, PRODUCERS, service_topology
from compressor_kit import runtime
from compressor_kit.settings import Settings
from compressor_kit.testing.mosquitto import access_list
from telemetry_service.settings import TelemetrySettings

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("infra_access", ROOT / "infra" / "access.py")
access = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(access)
_users_spec = importlib.util.spec_from_file_location("infra_mongo_users", ROOT / "infra" / "mongo" / "users.py")
mongo_users = importlib.util.module_from_spec(_users_spec)
_users_spec.loader.exec_module(mongo_users)
SERVICES = {
    "intake": 8001,
    "dispatch": 8002,
    "maintenance": 8003,
    "quality": 8004,
    "reporting": 8005,
    "feedback": 8006,
    "telemetry": 8007,
    "console": 8000,
}
# The product each infrastructure service runs, at an exact release of a supported line.
INFRA_IMAGES = {
    "rabbitmq": re.compile(r"^rabbitmq:4\.\d+\.\d+-management$"),  # RabbitMQ 4.x with its management plugin
    "mongo": re.compile(r"^mongo:8\.0\.\d+(-[a-z]+)?$"),  # MongoDB 8.0
    "jaeger": re.compile(r"^jaegertracing/jaeger:2\.\d+\.\d+$"),  # Jaeger v2
    "keycloak": re.compile(r"^quay\.io/keycloak/keycloak:26\.\d+\.\d+$"),
    "keycloak-db": re.compile(r"^postgres:\d+\.\d+(-[a-z0-9.]+)?$"),
    "proxy": re.compile(r"^caddy:2\.\d+\.\d+(-alpine)?$"),
    "mosquitto": re.compile(r"^eclipse-mosquitto:2\.0\.\d+$"),  # Mosquitto 2.0 (Docker official image)
}
# Registries (and namespaces) known to serve what is pulled from them: Docker Hub's official images
# (no namespace), the projects' own namespaces on Docker Hub (Jaeger, Prometheus, Grafana, OpenTelemetry),
# Keycloak's on quay.io, and ghcr.io.
ALLOWED_REGISTRIES = (
    re.compile(r"^(docker\.io/)?(library/)?[a-z0-9][a-z0-9._-]*:"),
    re.compile(r"^(docker\.io/)?(jaegertracing|prom|grafana|otel)/"),
    re.compile(r"^quay\.io/keycloak/"),
    re.compile(r"^ghcr\.io/"),
)
# Withdrawn or frozen: MinIO's images (Docker Hub withdrew minio/minio and minio/mc; the last quay.io image
# is frozen with published advisories). MinIO is built from source instead (infra/minio/Dockerfile).
DENIED_IMAGES = re.compile(r"^((docker\.io|quay\.io)/)?minio/")
# An exact release: digits and dots to at least major.minor.patch (Prometheus's with a leading v), or a dated
# Debian tag, an optional variant; never latest, a bare major or a major.minor that moves.
EXACT_TAG = re.compile(r"^(v?\d+\.\d+\.\d+|[a-z]+-\d{8})(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$")
EXACT_POSTGRES_TAG = re.compile(r"^\d+\.\d+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$")  # 17.11: PostgreSQL's own patch
DOCKERFILES = ("Dockerfile", "infra/minio/Dockerfile")
PROXY = "proxy"
HEALTHY_DEPENDENCIES = ("rabbitmq", "mongo", "minio", "keycloak")
# Variables the services' processes read that are not settings fields: uvicorn's trusted proxies.
UVICORN_ENV = ("FORWARDED_ALLOW_IPS",)
REQUIRED_ENV = (
    "RABBITMQ_URL",
    "MONGODB_URL",
    "S3_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "OIDC_ISSUER",
    "OIDC_DISCOVERY_URL",
    "OIDC_AUDIENCE",
    "OIDC_ROLES_CLAIM",
    "OIDC_SUBJECT_CLAIM",
    "ENVIRONMENT",
    "HTTP_PORT",
)
SECRET_ENV = ("S3_SECRET_KEY", "S3_ACCESS_KEY")
# HS256 development sign-in: ENVIRONMENT=local|test only; a production service refuses JWT_SIGNING_KEYS.
DEVELOPMENT_ONLY_ENV = ("JWT_SIGNING_KEYS", "JWT_ISSUER", "JWT_AUDIENCE")
REALM = "compressor"
REALM_FILE = "infra/keycloak/realm-compressor.json"
# The environment variables each service reads: the kit's settings plus its own settings class.
# Each service's settings, as its definition declares them.
SETTINGS_FIELDS = {
    name: set(importlib.import_module(f"{name}_service.app").SERVICE.settings_type.model_fields) for name in SERVICES
}
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


def test_the_file_is_a_valid_compose_file():
    """Checked against the Compose specification's schema (check-jsonschema, requirements-dev.txt):
    no Docker engine is needed, and a misspelt key fails here rather than at deployment."""
    tool = Path(sys.executable).with_name("check-jsonschema")
    assert tool.is_file(), "check-jsonschema is missing: pip install -r requirements-dev.txt"
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_and_the_infrastructure_are_declared(compose):
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
    fields = SETTINGS_FIELDS[name]
    unknown = [
        key
        for key in environment(compose, name)
        if key.lower() not in fields and not key.startswith("OTEL_") and key not in UVICORN_ENV
    ]
    assert not unknown, f"{name}: not read by its settings: {unknown}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_sets_the_required_variables(compose, name):
    env = environment(compose, name)
    missing = [key for key in REQUIRED_ENV if env.get(key) in (None, "")]
    assert not missing, f"{name}: missing {missing}"
    assert str(env["HTTP_PORT"]) == str(SERVICES[name])
    assert not compose["services"][name].get("ports"), f"{name}: reached through the proxy only"


@pytest.mark.parametrize("name", SERVICES)
def test_service_secrets_come_from_the_environment(compose, name):
    env = environment(compose, name)
    for key in SECRET_ENV:
        assert REQUIRED_INTERPOLATION.match(str(env.get(key))), f"{name}: {key} must be ${{...:?...}}, not a literal"
    assert re.search(r"\$\{" + name.upper() + r"_RABBITMQ_PASSWORD:\?", str(env.get("RABBITMQ_URL"))), (
        f"{name}: broker password hard-coded or not its own"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_service_uses_its_own_broker_user_and_object_store_key(compose, name):
    env = environment(compose, name)
    url = urlparse(re.sub(r"\$\{[^}]*\}", "secret", str(env["RABBITMQ_URL"])))
    assert url.username == name, f"{name}: connects as {url.username!r}, not as its own user"
    assert (url.hostname, url.path) == ("rabbitmq", "/" + access.VHOST)
    assert env["S3_ACCESS_KEY"].startswith("${" + name.upper() + "_S3_ACCESS_KEY:?")
    assert env["S3_SECRET_KEY"].startswith("${" + name.upper() + "_S3_SECRET_KEY:?")
    assert env["S3_BUCKET_PREFIX"] == access.BUCKET_PREFIX
    for other in SERVICES:
        if other != name:
            # (The console's INTAKE_URL etc. are other services' addresses, not their secrets.)
            for secret in ("_RABBITMQ_PASSWORD", "_S3_ACCESS_KEY", "_S3_SECRET_KEY"):
                assert other.upper() + secret not in str(env), f"{name} sees {other}'s secrets"


def test_generated_access_files_are_current():
    stale = [str(path.relative_to(ROOT)) for path, text in access.files().items() if path.read_text() != text]
    assert not stale, f"run `make docs` (infra/access.py): stale {stale}"


def test_broker_creates_each_services_user_from_the_environment(compose):
    rabbitmq = compose["services"]["rabbitmq"]
    env = as_dict(rabbitmq["environment"])
    mounted = " ".join(rabbitmq["volumes"])
    assert "./infra/rabbitmq/users.sh:/etc/compressor/users.sh" in mounted
    assert "./infra/rabbitmq/boot.sh:/etc/compressor/boot.sh" in mounted
    assert "/etc/compressor/boot.sh" in rabbitmq["command"]
    assert "users.sh" in (ROOT / "infra/rabbitmq/boot.sh").read_text()
    assert "users-ready" in str(rabbitmq["healthcheck"]["test"]), "healthy only once the users exist"
    for name in SERVICES:
        key = f"{name.upper()}_RABBITMQ_PASSWORD"
        assert REQUIRED_INTERPOLATION.match(str(env.get(key))), key


def test_object_store_keys_are_created_before_the_services_start(compose):
    init = compose["services"]["minio-users"]
    assert init["build"] == compose["services"]["minio"]["build"], "mc from the MinIO image built here"
    assert "image" not in init
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    env = as_dict(init["environment"])
    for name in SERVICES:
        for key in (f"{name.upper()}_S3_ACCESS_KEY", f"{name.upper()}_S3_SECRET_KEY"):
            assert REQUIRED_INTERPOLATION.match(str(env.get(key))), key
        condition = compose["services"][name]["depends_on"]["minio-users"]["condition"]
        assert condition == "service_completed_successfully", name
    script = (ROOT / "infra/minio/users.sh").read_text()
    for name in SERVICES:
        assert f'policy attach local compressor-{name} --user "${{{name.upper()}_S3_ACCESS_KEY:?}}"' in script


def _names(regex: str) -> set[str]:
    """The names an exact-alternation regex ^(a|b|c)$ allows."""
    match = re.fullmatch(r"\^\((.*)\)\$", regex)
    assert match, regex
    return {re.sub(r"\\(.)", r"\1", name) for name in match.group(1).split("|")}


@pytest.mark.parametrize("name", SERVICES)
def test_broker_permissions_are_exactly_the_services_own_queues_and_exchanges(name):
    topology = service_topology(name)
    own_queues = {q.name for q in topology.queues} | {topology.dead_letter_queue}
    exchanges = {EXCHANGE, topology.dead_letter_exchange}
    configure, write, read = access.rabbitmq_permissions(name)
    # Write on the default exchange too: a dead-letter replay publishes straight to the queue that failed it.
    permissions = ((configure, set()), (write, {"amq.default"}), (read, set()))
    for regex, extra in permissions:
        assert _names(regex) == own_queues | exchanges | extra
        for queue in own_queues | exchanges | extra:
            assert re.fullmatch(regex, queue)
    others = {q.name for other in SERVICES if other != name for q in service_topology(other).queues}
    others |= {service_topology(other).dead_letter_queue for other in SERVICES if other != name}
    others |= {service_topology(other).dead_letter_exchange for other in SERVICES if other != name}
    for regex, extra in permissions:
        for resource in (others | {"amq.default", "", "amq.topic", name + ".anything"}) - extra:
            assert not re.fullmatch(regex, resource), f"{name} may touch {resource!r}"
    script = (ROOT / "infra/rabbitmq/users.sh").read_text()
    assert f"set_permissions -p {access.VHOST} {name} '{configure}' '{write}' '{read}'" in script


@pytest.mark.parametrize("name", SERVICES)
def test_broker_topic_permissions_are_exactly_the_events_the_service_produces(name):
    """On the events exchange a service's user publishes only its own events' routing keys (so no other
    account can publish, say, quality's job.inspection_passed there) and binds only its own patterns."""
    write, read = access.rabbitmq_topic_permissions(name)
    produced = {key for key, data_type in CATALOGUE.items() if data_type.producer == name}
    assert _names(write) == produced if produced else write == access.NOTHING
    for key in CATALOGUE:
        assert bool(re.fullmatch(write, key)) == (key in produced), f"{name} may publish {key!r}"
    for other in ("", "#", "job.#", "job.inspection_passed.v1.x", "*.*.v1"):
        assert not re.fullmatch(write, other), f"{name} may publish {other!r}"
    assert _names(read) == {pattern for queue in service_topology(name).queues for pattern in queue.bindings}
    script = (ROOT / "infra/rabbitmq/users.sh").read_text()
    assert f"set_topic_permissions -p {access.VHOST} {name} {EXCHANGE} '{write}' '{read}'" in script


@pytest.mark.parametrize("name", SERVICES)
def test_services_check_each_events_publisher_against_the_users_the_broker_creates(compose, name):
    """RABBITMQ_PUBLISHER_USERS (default "{service}") names every service's broker user as users.sh
    creates them, so each consumer can check an event's user_id against its producer's user."""
    env = environment(compose, name)
    users = str(env.get("RABBITMQ_PUBLISHER_USERS") or Settings.model_fields["rabbitmq_publisher_users"].default)
    script = (ROOT / "infra/rabbitmq/users.sh").read_text()
    for service in SERVICES:
        assert f"add_user -- {users.replace('{service}', service)} " in script, (name, service)
    url = urlparse(re.sub(r"\$\{[^}]*\}", "secret", str(env["RABBITMQ_URL"])))
    assert url.username == users.replace("{service}", name) != "guest"  # on: not the guest account


@pytest.mark.parametrize("name", SERVICES)
def test_object_store_policy_names_only_the_services_buckets(name):
    definition = importlib.import_module(f"{name}_service.app").SERVICE
    own = {access.BUCKET_PREFIX + bucket for bucket in definition.buckets}
    read_only = {access.BUCKET_PREFIX + bucket for bucket in access.READS_BY_CONTRACT.get(name, ())}
    policy = access.minio_policy(name)
    assert policy == json.loads((ROOT / f"infra/minio/policies/{name}.json").read_text())
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"]
        if resources == ["arn:aws:s3:::*"]:
            assert statement["Action"] == ["s3:ListAllMyBuckets"], "only listing bucket names is global"
            continue
        buckets = {resource.removeprefix("arn:aws:s3:::").split("/")[0] for resource in resources}
        assert all("*" not in bucket for bucket in buckets)
        if buckets <= read_only and not buckets <= own:
            assert set(statement["Action"]) <= {"s3:GetObject", "s3:GetObjectVersion"}
        else:
            assert buckets <= own, f"{name} may touch {buckets - own}"
    granted = {
        resource.removeprefix("arn:aws:s3:::").split("/")[0]
        for statement in policy["Statement"]
        for resource in statement["Resource"]
    } - {"*"}
    assert granted == own | read_only
    for statement in policy["Statement"]:
        assert "s3:*" not in statement["Action"] and "DeleteBucket" not in str(statement)


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
    assert INFRA_IMAGES[name].match(image), f"{name}: {image}"


def pulled_images(compose: dict) -> dict[str, str]:
    """Every image a deployment pulls: compose's `image:` lines and the FROM lines of the Dockerfiles it builds."""
    images = {
        f"compose {name}": service["image"] for name, service in compose["services"].items() if "image" in service
    }
    for path in DOCKERFILES:
        stages = set()
        for line in (ROOT / path).read_text().splitlines():
            match = re.match(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
            if match:
                if match.group(1) not in stages:  # FROM <an earlier stage> pulls nothing
                    images[f"{path} {match.group(1)}"] = match.group(1)
                if match.group(2):
                    stages.add(match.group(2))
    return images


def test_every_image_is_an_exact_release_from_a_registry_that_serves_it(compose):
    images = pulled_images(compose)
    assert len(images) >= 9, images
    for where, image in images.items():
        assert "$" not in image, f"{where}: {image} is chosen at build time"
        assert not DENIED_IMAGES.match(image), f"{where}: {image} is withdrawn or frozen (build MinIO from source)"
        assert any(registry.match(image) for registry in ALLOWED_REGISTRIES), f"{where}: {image}: unknown registry"
        name, _, tag = image.partition(":")
        assert tag, f"{where}: {image} has no tag (latest)"
        pattern = EXACT_POSTGRES_TAG if name.rsplit("/", 1)[-1] == "postgres" else EXACT_TAG
        assert pattern.match(tag), f"{where}: {image} is not an exact release"


def test_the_image_checks_refuse_what_they_should():
    """The checks above, on references they must refuse (a regression guard for the patterns)."""
    for image in ("minio/minio:RELEASE.2025-09-07T16-13-09Z", "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"):
        assert DENIED_IMAGES.match(image)
    for tag in ("latest", "3", "4.1", "4-management", "3.11-slim", "22-slim", "bookworm-slim"):
        assert not EXACT_TAG.match(tag), tag
    assert not any(registry.match("example.org/someone/rabbitmq:4.3.5") for registry in ALLOWED_REGISTRIES)


def test_minio_is_built_from_source_at_a_pinned_release_and_commit(compose):
    build = compose["services"]["minio"]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT / "infra" / "minio"
    dockerfile = (ROOT / "infra/minio/Dockerfile").read_text()
    for program in ("MINIO", "MC"):
        assert re.search(rf"^ARG {program}_RELEASE=RELEASE\.\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\dZ$", dockerfile, re.M)
        assert re.search(rf"^ARG {program}_COMMIT=[0-9a-f]{{40}}$", dockerfile, re.M)
        assert f'test "$(git -C {program.lower()} rev-parse HEAD)" = "${{{program}_COMMIT}}"' in dockerfile
    assert "GOTOOLCHAIN=local" in dockerfile, "built with the pinned image's Go, nothing downloaded"
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert compose["services"]["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]


@pytest.mark.parametrize("name", HEALTHY_DEPENDENCIES)
def test_infrastructure_has_a_healthcheck(compose, name):
    assert compose["services"][name].get("healthcheck", {}).get("test"), name


def test_mongo_runs_the_replica_set_that_the_services_name(compose):
    mongo = compose["services"]["mongo"]
    command = mongo["command"] if isinstance(mongo["command"], list) else mongo["command"].split()
    assert command[command.index("--replSet") + 1] == "rs0"
    init = as_dict(compose["services"]["mongo-users"]["environment"])
    assert init["MONGODB_REPLICA_SET"] == "rs0" and init["MONGODB_HOST"] == "mongo:27017"
    assert "replSetInitiate" in (ROOT / "infra/mongo/users.py").read_text()
    for name in SERVICES:
        assert "replicaSet=rs0" in environment(compose, name)["MONGODB_URL"]


def test_mongo_requires_authentication_with_a_keyfile_and_a_root_user_from_the_environment(compose):
    mongo = compose["services"]["mongo"]
    command = mongo["command"] if isinstance(mongo["command"], list) else mongo["command"].split()
    assert "--auth" in command
    keyfile = command[command.index("--keyFile") + 1]
    env = as_dict(mongo["environment"])
    for key in ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD", "MONGODB_KEYFILE_SECRET"):
        assert REQUIRED_INTERPOLATION.match(str(env.get(key))), f"mongo: {key} must be ${{...:?...}}"
    # The keyfile is written from the environment before the image's entrypoint runs mongod.
    assert "./infra/mongo/boot.sh:/etc/compressor/boot.sh:ro" in mongo["volumes"]
    assert mongo["entrypoint"] == ["bash", "/etc/compressor/boot.sh"]
    boot = (ROOT / "infra/mongo/boot.sh").read_text()
    assert f"key={keyfile}" in boot and "chmod 400" in boot and 'exec docker-entrypoint.sh "$@"' in boot
    assert not mongo.get("ports"), "MongoDB stays inside the compose network"


@pytest.mark.parametrize("name", SERVICES)
def test_service_connects_to_mongo_as_its_own_user(compose, name):
    env = environment(compose, name)
    raw = str(env["MONGODB_URL"])
    assert re.search(r"\$\{" + name.upper() + r"_MONGODB_PASSWORD:\?", raw), f"{name}: password not its own"
    url = urlparse(re.sub(r"\$\{[^}]*\}", "secret", raw))
    assert (url.username, url.hostname, url.port) == (name, "mongo", 27017)
    assert parse_qs(url.query) == {"replicaSet": ["rs0"], "authSource": ["admin"]}
    assert "MONGODB_URL" not in compose["x-service-environment"], "no shared, user-less connection string"
    for other in SERVICES:
        if other != name:
            assert f"{other.upper()}_MONGODB_PASSWORD" not in str(env), f"{name} sees {other}'s MongoDB password"
    assert compose["services"][name]["depends_on"]["mongo-users"]["condition"] == "service_completed_successfully"


def test_mongo_users_are_created_by_the_projects_own_image_before_the_services_start(compose):
    init = compose["services"]["mongo-users"]
    assert (ROOT / init["build"]["context"]).resolve() == ROOT and init["build"]["dockerfile"] == "Dockerfile"
    assert init["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert "./infra/mongo/users.py:/etc/compressor/mongo-users.py:ro" in init["volumes"]
    assert init["command"] == ["python", "/etc/compressor/mongo-users.py"]
    assert init["restart"] == "no" and init["healthcheck"] == {"disable": True}
    env = as_dict(init["environment"])
    mongo = as_dict(compose["services"]["mongo"]["environment"])
    assert env["MONGODB_ROOT_USER"] == mongo["MONGO_INITDB_ROOT_USERNAME"], "one root user, from one variable"
    assert env["MONGODB_ROOT_PASSWORD"] == mongo["MONGO_INITDB_ROOT_PASSWORD"]
    for name in SERVICES:
        key = f"{name.upper()}_MONGODB_PASSWORD"
        assert REQUIRED_INTERPOLATION.match(str(env.get(key))), key
        assert env[key] in environment(compose, name)["MONGODB_URL"], f"{name}: the init and the service disagree"


@pytest.mark.parametrize("name", SERVICES)
def test_mongo_user_is_limited_to_its_own_database(name):
    """The roles infra/mongo/users.py gives (proven on a real mongod with --auth in test_mongo_users.py)."""
    roles = mongo_users.roles_of(name)
    assert roles[0] == {"role": "readWrite", "db": name}
    others = roles[1:]
    if name == mongo_users.BACKUP_TAKER:  # reporting's backups read every phase service's database
        assert others == [{"role": "read", "db": other} for other in PRODUCERS if other != name]
    else:
        assert others == []
    assert all(role["role"] in ("readWrite", "read") and role["db"] != "admin" for role in roles)


# --- Mosquitto: the site gateways' MQTT broker --------------------------------------------------------------


def mosquitto_config() -> dict[str, list[str]]:
    """infra/mosquitto/mosquitto.conf's options, each with its values in the order written."""
    options: dict[str, list[str]] = {}
    for line in (ROOT / "infra/mosquitto/mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.strip().partition(" ")
            options.setdefault(name, []).append(value)
    return options


def test_mosquitto_admits_only_its_users_and_enforces_the_generated_access_list(compose):
    """No anonymous client; telemetry reads every gateway's readings, a gateway publishes only under its own
    topic: the access list is the one the kit's test broker enforces in the telemetry tests."""
    mosquitto = compose["services"]["mosquitto"]
    mounts = {target: source for source, target, *_ in (str(v).split(":") for v in mosquitto["volumes"])}
    config = mosquitto_config()
    assert config["allow_anonymous"] == ["false"] and config["per_listener_settings"] == ["false"]
    assert mounts["/mosquitto/config/mosquitto.conf"] == "./infra/mosquitto/mosquitto.conf"
    assert mosquitto["command"][-2:] == ["-c", "/mosquitto/config/mosquitto.conf"]
    (acl,) = config["acl_file"]
    assert mounts[acl] == "./infra/mosquitto/acl"
    assert (ROOT / "infra/mosquitto/acl").read_text() == access_list(access.MQTT_READER)
    # The password file lives in the broker's volume; boot.sh writes telemetry's user from the environment.
    (passwords,) = config["password_file"]
    assert mounts["/mosquitto/data"] in (compose.get("volumes") or {}) and passwords.startswith("/mosquitto/data/")
    boot = (ROOT / "infra/mosquitto/boot.sh").read_text()
    assert f'mosquitto_passwd -b "$passwords" {access.MQTT_READER} "${{TELEMETRY_MQTT_PASSWORD:?}}"' in boot
    assert f"passwords={passwords}" in boot and 'exec /docker-entrypoint.sh "$@"' in boot
    assert mounts["/etc/compressor/boot.sh"] == "./infra/mosquitto/boot.sh"
    assert mosquitto["entrypoint"] == ["sh", "/etc/compressor/boot.sh"]
    assert REQUIRED_INTERPOLATION.match(str(as_dict(mosquitto["environment"])["TELEMETRY_MQTT_PASSWORD"]))
    # Readings wait in the broker while telemetry is down, across a restart of the broker too.
    assert config["persistence"] == ["true"] and config["persistence_location"] == ["/mosquitto/data/"]
    # MQTT inside the network; the gateways' WebSockets behind the proxy. Nothing published.
    assert config["listener"] == ["1883", "9001"] and config["protocol"] == ["websockets"]
    assert not mosquitto.get("ports"), "Mosquitto is reached inside the network and through the proxy only"
    assert "-E" in " ".join(mosquitto["healthcheck"]["test"]), "healthy once telemetry may subscribe"


def test_telemetry_reads_the_gateways_as_the_access_lists_reader_with_its_own_password(compose):
    env = environment(compose, "telemetry")
    url = urlparse(env["MQTT_URL"])
    assert (url.scheme, url.hostname, url.port) == ("mqtt", "mosquitto", 1883)
    assert env["MQTT_USERNAME"] == access.MQTT_READER
    assert REQUIRED_INTERPOLATION.match(str(env["MQTT_PASSWORD"]))
    assert env["MQTT_PASSWORD"] == as_dict(compose["services"]["mosquitto"]["environment"])["TELEMETRY_MQTT_PASSWORD"]
    root = TelemetrySettings.model_fields["mqtt_topic_root"].default
    assert "MQTT_TOPIC_ROOT" not in env and access_list(access.MQTT_READER) == access_list(access.MQTT_READER, root)
    for other in SERVICES:
        if other != "telemetry":
            assert "MQTT" not in str(environment(compose, other)), f"{other} sees telemetry's MQTT password"


def test_jaeger_accepts_otlp_and_is_bounded_in_memory(compose):
    jaeger = compose["services"]["jaeger"]
    mounts = [str(volume) for volume in jaeger["volumes"]]
    assert "./infra/jaeger/config.yaml:/etc/jaeger/config.yaml:ro" in mounts
    assert jaeger["command"] == ["--config", "/etc/jaeger/config.yaml"]
    config = yaml.safe_load((ROOT / "infra/jaeger/config.yaml").read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["processors"][0] == "memory_limiter", "the limiter comes first"
    env = as_dict(jaeger["environment"])
    limit_mib = int(env["JAEGER_MEMORY_LIMIT_MIB"])
    assert str(config["processors"]["memory_limiter"]["limit_mib"]).startswith("${env:JAEGER_MEMORY_LIMIT_MIB:-")
    container_mib = int(str(jaeger["mem_limit"]).rstrip("m"))
    assert limit_mib < container_mib, "the limiter refuses spans before the container is killed"
    store = config["extensions"]["jaeger_storage"]["backends"][
        config["exporters"]["jaeger_storage_exporter"]["trace_storage"]
    ]
    assert "JAEGER_MAX_TRACES" in str(store["memory"]["max_traces"])
    published = [str(port) for port in jaeger.get("ports", [])]
    assert published == ["127.0.0.1:16686:16686"], "the UI on this host only; OTLP inside the network"


def test_management_uis_and_traces_bind_to_this_host_only(compose):
    # Traces carry job data and the management UIs hold the keys: none is published beyond the host.
    for name in ("jaeger", "rabbitmq", "minio"):
        for port in compose["services"][name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


@pytest.mark.parametrize("name", SERVICES)
def test_service_trusts_keycloaks_tokens_and_no_shared_secret(compose, name):
    env = environment(compose, name)
    present = [key for key in DEVELOPMENT_ONLY_ENV if key in env]
    assert not present, f"{name}: development-only sign-in settings in a deployment: {present}"
    # The issuer is the public realm URL the tokens carry; compose refuses to start without it.
    assert re.fullmatch(r"\$\{KEYCLOAK_PUBLIC_URL:\?[^}]*\}/realms/" + REALM, str(env["OIDC_ISSUER"])), env[
        "OIDC_ISSUER"
    ]
    # The discovery document (and so the keys) is read from Keycloak inside the network.
    discovery = urlparse(str(env["OIDC_DISCOVERY_URL"]))
    assert (discovery.scheme, discovery.hostname, discovery.port) == ("http", "keycloak", 8080)
    assert discovery.path == f"/realms/{REALM}/.well-known/openid-configuration"
    assert env["OIDC_ROLES_CLAIM"] == "realm_access.roles"
    assert env["OIDC_SUBJECT_CLAIM"] == "subject_id"


@pytest.mark.parametrize("name", SERVICES)
def test_optional_token_check_settings_default_to_the_kits_defaults(compose, name):
    """OIDC_* tuning that compose passes through with a default (`${VAR:-default}`) means the kit's
    own default when the variable is unset, not a second opinion on it."""
    fields = Settings.model_fields
    for key, value in environment(compose, name).items():
        match = re.fullmatch(r"\$\{([A-Z0-9_]+):-([^}]*)\}", str(value))
        if key.startswith("OIDC_") and match:
            assert match.group(1) == key, f"{name}: {key} reads {match.group(1)}"
            assert float(match.group(2)) == float(fields[key.lower()].default), f"{name}: {key} default"


@pytest.mark.parametrize("name", ["keycloak", "keycloak-db"])
def test_identity_provider_images_are_pinned(compose, name):
    """A moving tag would change the identity provider under a deployment."""
    image = compose["services"][name]["image"]
    assert INFRA_IMAGES[name].match(image), f"{name}: {image} is not an exact release"


def test_keycloak_runs_in_production_mode_on_its_own_database(compose):
    keycloak = compose["services"]["keycloak"]
    command = keycloak["command"] if isinstance(keycloak["command"], list) else keycloak["command"].split()
    assert command[0] == "start" and "start-dev" not in command, command
    assert "--import-realm" in command
    env = as_dict(keycloak["environment"])
    assert env["KC_DB"] == "postgres"
    assert env["KC_DB_URL_HOST"] == "keycloak-db"
    assert keycloak["depends_on"]["keycloak-db"]["condition"] == "service_healthy"
    for key in ("KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD", "KC_DB_PASSWORD"):
        assert REQUIRED_INTERPOLATION.match(str(env.get(key))), f"keycloak: {key} must be ${{...:?...}}"
    database = compose["services"]["keycloak-db"]
    db_env = as_dict(database["environment"])
    assert db_env["POSTGRES_PASSWORD"] == env["KC_DB_PASSWORD"], "one password, from one variable"
    assert db_env["POSTGRES_USER"] == env["KC_DB_USERNAME"]
    assert db_env["POSTGRES_DB"] == env["KC_DB_URL_DATABASE"]
    assert "pg_isready" in str(database["healthcheck"]["test"])
    volumes = {str(volume).split(":")[0] for volume in database["volumes"]}
    assert volumes & set(compose.get("volumes") or {}), "the database keeps its data in a named volume"
    assert not database.get("ports"), "PostgreSQL stays inside the compose network"


def test_keycloak_serves_the_public_url_behind_a_tls_proxy(compose):
    keycloak = compose["services"]["keycloak"]
    env = as_dict(keycloak["environment"])
    assert REQUIRED_INTERPOLATION.match(str(env["KC_HOSTNAME"])) and "KEYCLOAK_PUBLIC_URL" in env["KC_HOSTNAME"]
    assert str(env["KC_HTTP_ENABLED"]).lower() == "true"  # TLS ends at the proxy
    assert env["KC_PROXY_HEADERS"] == "xforwarded"
    # Inside the network the services reach Keycloak by its service name, not the public URL.
    assert str(env["KC_HOSTNAME_BACKCHANNEL_DYNAMIC"]).lower() == "true"
    assert str(env["KC_HEALTH_ENABLED"]).lower() == "true"
    for port in keycloak.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"keycloak: {port} must listen on 127.0.0.1 only"
        assert not str(port).endswith(":9000"), "the management port stays inside the network"


def test_keycloak_imports_the_realm_read_only_and_is_healthy_once_ready(compose):
    keycloak = compose["services"]["keycloak"]
    mounts = [str(volume) for volume in keycloak["volumes"]]
    realm = [m for m in mounts if m.startswith(f"./{REALM_FILE}:")]
    assert realm, mounts
    source, target, mode = realm[0].split(":")
    assert (ROOT / source).is_file()
    assert target.startswith("/opt/keycloak/data/import/") and target.endswith(".json")
    assert mode == "ro"
    assert json.loads((ROOT / source).read_text())["realm"] == REALM
    test = " ".join(keycloak["healthcheck"]["test"])
    assert "/dev/tcp/127.0.0.1/9000" in test and "/health/ready" in test, test


def test_dockerfile_builds_any_service_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    images = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    # Python for the services; Node only to fetch the console's pinned browser code (signature_pad).
    assert images and all(
        re.fullmatch(r"(python:3\.11\.\d+-slim-bookworm|node:22\.\d+\.\d+-bookworm-slim)", i) for i in images
    )
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", images[-1]), images
    assert images[1] == images[-1], "built and run on the same Python"
    assert "npm ci" in dockerfile and "package-lock.json" in dockerfile
    assert re.search(r"^ARG SERVICE\b", dockerfile, re.M)
    for package in ("./libs/contracts", "./libs/kit", "./services/${SERVICE}"):
        assert package in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^CMD .*python -m \\?\"?\$\{SERVICE\}_service", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK .*", dockerfile, re.M)


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", "var", ".git", ".env"} <= ignored  # .env holds the deployment's secrets
    assert ignored & {"__pycache__", "**/__pycache__"}


# --- the one TLS proxy, what is published, and what the services believe of forwarded headers -----------


def caddy_sites() -> dict[str, str]:
    """The Caddyfile's site blocks by address ({$VAR}), each with its body (tabs, as `caddy fmt` writes)."""
    text = (ROOT / "infra/proxy/Caddyfile").read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\{\$[A-Z0-9_]+\}) \{\n(.*?)^\}$", text, re.M | re.S)}


def test_only_the_proxy_publishes_ports_beyond_this_host(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if name != PROXY:
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
    published = {str(port) for port in compose["services"][PROXY]["ports"]}
    assert {"80:80", "443:443"} <= published


def test_management_uis_and_jaeger_listen_on_this_host_only(compose):
    expected = {"rabbitmq": "15672", "minio": "9001", "keycloak": "8080", "jaeger": "16686"}
    for name, port in expected.items():
        assert f"127.0.0.1:{port}:{port}" in [str(p) for p in compose["services"][name]["ports"]], name


def test_the_proxy_is_a_pinned_caddy_with_the_projects_config(compose):
    proxy = compose["services"][PROXY]
    assert "./infra/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    env = as_dict(proxy["environment"])
    for key in (
        "CONSOLE_PUBLIC_URL",
        "API_PUBLIC_URL",
        "KEYCLOAK_PUBLIC_URL",
        "S3_PUBLIC_ENDPOINT",
        "MQTT_PUBLIC_ENDPOINT",
        "PROXY_TLS",
    ):
        assert REQUIRED_INTERPOLATION.match(str(env.get(key))), f"proxy: {key} must be ${{...:?...}}"
        assert "{$" + key + "}" in (ROOT / "infra/proxy/Caddyfile").read_text(), key


def test_the_proxy_routes_each_public_name_to_what_serves_it():
    sites = caddy_sites()
    assert set(sites) == {
        "{$CONSOLE_PUBLIC_URL}",
        "{$API_PUBLIC_URL}",
        "{$KEYCLOAK_PUBLIC_URL}",
        "{$S3_PUBLIC_ENDPOINT}",
        "{$MQTT_PUBLIC_ENDPOINT}",
    }
    assert "reverse_proxy console:8000" in sites["{$CONSOLE_PUBLIC_URL}"]
    api = sites["{$API_PUBLIC_URL}"]
    for name, port in SERVICES.items():
        if name != "console":
            assert re.search(rf"handle_path /{name}/\* \{{\s*reverse_proxy {name}:{port}\s*\}}", api), name
    assert re.search(r"handle /surveys/\* \{\s*reverse_proxy feedback:8006\s*\}", api)
    # Refused in order before any service is reached: a service's metrics, then anything unrouted.
    assert api.index("respond @service_metrics 404") < api.index("handle /surveys/")
    assert re.search(r"respond 404\s*\}\s*$", api)
    keycloak = sites["{$KEYCLOAK_PUBLIC_URL}"]
    assert "respond @admin 404" in keycloak and "reverse_proxy keycloak:8080" in keycloak
    assert "reverse_proxy minio:9000" in sites["{$S3_PUBLIC_ENDPOINT}"]
    # The signature covers host and path: nothing on the object store's site may rewrite them.
    assert not re.search(r"\b(header_up|rewrite|uri|handle_path|encode)\b", sites["{$S3_PUBLIC_ENDPOINT}"])
    # The gateways' MQTT over WebSockets, to Mosquitto's WebSocket listener (infra/mosquitto/mosquitto.conf).
    assert "reverse_proxy mosquitto:9001" in sites["{$MQTT_PUBLIC_ENDPOINT}"]
    for site in sites.values():
        assert "tls {$PROXY_TLS}" in site or "import common" in site


def test_feedbacks_survey_links_start_where_the_proxy_serves_them(compose):
    env = environment(compose, "feedback")
    assert env["PUBLIC_BASE_URL"] == "${API_PUBLIC_URL:?set API_PUBLIC_URL}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_believes_forwarded_headers_from_the_proxy_only(compose, name):
    """Per-address rate limits count clients, not the proxy; nobody else can choose their address."""
    proxy_address = compose["services"][PROXY]["networks"]["default"]["ipv4_address"]
    assert environment(compose, name)["FORWARDED_ALLOW_IPS"] == proxy_address
    keycloak = as_dict(compose["services"]["keycloak"]["environment"])
    assert keycloak["KC_PROXY_TRUSTED_ADDRESSES"] == proxy_address
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    default_address = re.fullmatch(r"\$\{PROXY_ADDRESS:-([0-9.]+)\}", proxy_address).group(1)
    default_subnet = re.fullmatch(r"\$\{COMPOSE_SUBNET:-([0-9./]+)\}", subnet).group(1)
    assert ipaddress.ip_address(default_address) in ipaddress.ip_network(default_subnet)


@pytest.mark.parametrize("name", SERVICES)
def test_service_signs_object_links_for_the_public_endpoint(compose, name):
    env = environment(compose, name)
    assert env["S3_PUBLIC_ENDPOINT"] == "${S3_PUBLIC_ENDPOINT:?set S3_PUBLIC_ENDPOINT}"
    assert env["S3_ENDPOINT"] == "minio:9000", "the service itself stays inside the network"
    fields = Settings.model_fields
    assert re.fullmatch(r"\$\{S3_PUBLIC_SECURE:-(true|false)\}", env["S3_PUBLIC_SECURE"])
    assert env["S3_PUBLIC_SECURE"] == "${S3_PUBLIC_SECURE:-" + str(fields["s3_public_secure"].default).lower() + "}"


def test_demo_engineers_are_seeded_only_when_asked(compose):
    assert environment(compose, "dispatch")["DISPATCH_SEED_ENGINEERS"] == "${DISPATCH_SEED_ENGINEERS:-false}"


# --- graceful stop -----------------------------------------------------------------------------------------


def seconds(duration: str) -> float:
    """A compose duration such as 75s, 1m30s."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), duration
    return sum(float(n) * units[u] for n, u in parts)


def longest_stop_seconds() -> float:
    """A service's own stop, at worst: uvicorn drains open requests for timeout_graceful_shutdown, then
    Runtime.stop waits for its tasks and each bounded step for at most STOP_STEP_SECONDS."""
    serve = (ROOT / "libs/kit/src/compressor_kit/serve.py").read_text()
    drain = float(re.search(r"timeout_graceful_shutdown=(\d+(?:\.\d+)?)", serve).group(1))
    stop = inspect.getsource(runtime.Runtime.stop)
    steps = stop.count("self._bounded(") + stop.count("timeout=STOP_STEP_SECONDS")
    assert steps >= 2, stop
    return drain + steps * runtime.STOP_STEP_SECONDS


@pytest.mark.parametrize("name", SERVICES)
def test_service_stops_by_itself_before_compose_kills_it(compose, name):
    grace = seconds(compose["services"][name]["stop_grace_period"])
    assert grace > longest_stop_seconds(), (
        f"{name}: stop_grace_period {grace}s, the stop may take {longest_stop_seconds()}s"
    )
    assert re.search(r"^STOPSIGNAL SIGTERM$", (ROOT / "Dockerfile").read_text(), re.M)


# --- .env.example ------------------------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def compose_variables() -> dict[str, tuple[bool, str]]:
    """Each variable the compose file reads: (required, default). ${VAR:?...} is required; ${VAR:-default}
    optional. A variable read both ways, or with two defaults, is an error here."""
    text = "\n".join(
        line for line in (ROOT / "docker-compose.yml").read_text().splitlines() if not line.lstrip().startswith("#")
    )
    found: dict[str, set[tuple[bool, str]]] = {}
    for name, operator, argument in INTERPOLATION.findall(text.replace("$$", "")):
        assert operator in (":?", ":-"), f"${{{name}}} must say ${{{name}:?...}} or ${{{name}:-default}}"
        found.setdefault(name, set()).add((operator == ":?", "" if operator == ":?" else argument))
    for name, ways in found.items():
        assert len(ways) == 1, f"{name} is read in more than one way: {ways}"
    return {name: ways.pop() for name, ways in found.items()}


def env_example() -> dict[str, tuple[bool, str]]:
    """.env.example's entries: `# required...` above `NAME=` (empty), `# optional (default X)...` above
    `#NAME=X`."""
    entries: dict[str, tuple[bool, str]] = {}
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=(.*)", line)
        if not match:
            continue
        commented, name, value = match.groups()
        comments = []
        for above in reversed(lines[:index]):
            if not above.startswith("# ") or re.fullmatch(r"#?[A-Z][A-Z0-9_]*=.*", above):
                break
            comments.insert(0, above)
        mark = next((c for c in comments if c.startswith(("# required", "# optional"))), "")
        assert name not in entries, f".env.example: {name} twice"
        if mark.startswith("# required"):
            assert not commented and value == "", f".env.example: required {name} must be `{name}=` to fill in"
            entries[name] = (True, "")
        else:
            assert mark.startswith("# optional"), f".env.example: {name} is marked neither required nor optional"
            assert commented, f".env.example: optional {name} stays commented out (compose's default applies)"
            default = re.match(r"# optional \(default (.*?)(\)|\): )", mark)
            assert default, f".env.example: optional {name} must name its default"
            entries[name] = (False, value)
    return entries


def test_env_example_lists_every_variable_compose_reads_and_says_truthfully_if_it_is_required():
    documented, read = env_example(), compose_variables()
    assert set(documented) == set(read), (
        f"missing from .env.example: {sorted(set(read) - set(documented))}; "
        f"not read by compose: {sorted(set(documented) - set(read))}"
    )
    for name, (required, default) in read.items():
        assert documented[name][0] == required, f"{name}: compose treats it as {'required' if required else 'optional'}"
        if not required:
            assert documented[name][1] == default, (
                f"{name}: .env.example says {documented[name][1]!r}, compose {default!r}"
            )


def test_the_env_example_check_notices_a_wrong_mark(tmp_path, monkeypatch):
    """The parser above refuses an entry marked neither way (so the agreement test cannot pass vacuously)."""
    fake = tmp_path / "root"
    fake.mkdir()
    (fake / ".env.example").write_text("# the broker\nRABBITMQ_USER=\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    with pytest.raises(AssertionError, match="neither required nor optional"):
        env_example()
