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
"""

from __future__ import annotations

import importlib
import importlib.util
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
from compressor_kit.settings import Settings

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
    "console": 8000,
}
INFRA_IMAGES = {
    "rabbitmq": "rabbitmq:3-management",
    "mongo": "mongo:7",
    "minio": "minio/minio",
    "jaeger": "jaegertracing/all-in-one",
    "keycloak": "quay.io/keycloak/keycloak",
    "keycloak-db": "postgres",
}
# Images pinned to an exact release (a moving tag would change the identity provider under a deployment).
PINNED_IMAGES = {
    "keycloak": re.compile(r"^quay\.io/keycloak/keycloak:26\.\d+\.\d+$"),
    "keycloak-db": re.compile(r"^postgres:\d+\.\d+(-[a-z0-9.]+)?$"),
}
HEALTHY_DEPENDENCIES = ("rabbitmq", "mongo", "minio", "keycloak")
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


def test_the_seven_services_and_the_infrastructure_are_declared(compose):
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
    unknown = [key for key in environment(compose, name) if key.lower() not in fields and not key.startswith("OTEL_")]
    assert not unknown, f"{name}: not read by its settings: {unknown}"


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
    assert init["image"].startswith("minio/mc")
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
    expected = INFRA_IMAGES[name]
    assert image == expected or image.startswith(expected + ":"), f"{name}: {image}"


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


def test_jaeger_accepts_otlp(compose):
    jaeger = compose["services"]["jaeger"]
    assert str(as_dict(jaeger.get("environment")).get("COLLECTOR_OTLP_ENABLED")).lower() == "true"
    published = {str(port).split(":")[-1] for port in jaeger.get("ports", [])}
    assert {"16686", "4317", "4318"} <= published


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


@pytest.mark.parametrize("name", PINNED_IMAGES)
def test_identity_provider_images_are_pinned(compose, name):
    image = compose["services"][name]["image"]
    assert PINNED_IMAGES[name].match(image), f"{name}: {image} is not an exact release"


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
    assert images and all(image in ("python:3.11-slim", "node:22-slim") for image in images), images
    assert re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)[-1] == "python:3.11-slim"
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
    assert {".venv", "var", ".git"} <= ignored
    assert ignored & {"__pycache__", "**/__pycache__"}
