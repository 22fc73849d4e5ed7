"""Writes the generated parts of the Kubernetes base from the code, as `make docs` does for compose:

    .venv/bin/python deploy/kubernetes/generate.py

- base/services/<service>.yaml: each service's ConfigMap, Deployment, Service, PodDisruptionBudget and
  HorizontalPodAutoscaler (the same shape for all eight; ports, settings and secrets per service);
- base/rabbitmq/topology.yaml: the Messaging Topology Operator's User, Permission and TopicPermission per
  service, with exactly the permissions infra/access.py gives (as infra/rabbitmq/users.sh does for compose);
- base/mongodb/users.yaml: the Job compressor-mongodb-users, which initiates the replica set with its three
  members (mongo_replica_set.py) and then runs infra/mongo/users.py (one user per service, as compose's
  mongo-users does), and the ConfigMap holding both scripts;
- base/minio/users.yaml: the Job compressor-minio-users, which runs infra/minio/users.sh (one access key per
  service with the policy infra/minio/policies/<service>.json, as compose's minio-users does), and the
  ConfigMap holding the script and the policies (both written by infra/access.py: `make docs` runs it first).

tests/test_kubernetes.py checks the files are current. Secrets are only referenced: an operator creates
them (deploy/kubernetes/README.md lists them); no value is in these files.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASE = HERE / "base"
_spec = importlib.util.spec_from_file_location("infra_access", ROOT / "infra" / "access.py")
assert _spec and _spec.loader
access = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(access)

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
PART_OF = "compressor"
RABBITMQ_CLUSTER = "compressor-rabbitmq"
MONGODB = "mongodb"
MONGODB_MEMBERS = 3
REPLICA_SET = "rs0"
MINIO = "minio"  # the Service the services, the Ingress and infra/minio/users.sh (http://minio:9000) name
MINIO_ROOT = "compressor-minio-root"  # the Secret with the root user
MINIO_USERS_ATTEMPTS = 60  # ten seconds apart: a distributed store waits for all its pods first
PUBLIC_HOST = "compressor.example.com"  # the console; each API at <service>.compressor.example.com
UID = 10001  # the Dockerfile's `app` user
# The kit stops within a bound: uvicorn drains open responses (10 s), then Runtime.stop cancels its tasks and
# closes the relay lease, broker, MongoDB and HTTP client, each step cut off after STOP_STEP_SECONDS (10 s):
# at most about 60 s, plus the 5 s preStop pause. The kubelet's SIGKILL must come later than that.
TERMINATION_GRACE_SECONDS = 75
PRE_STOP_SECONDS = 5
# bench/README.md: about 1.1 CPU-seconds per job for the six services together, so about 0.2 per service
# per job; one replica is one Python process (one core at most). 100m per replica, two replicas of each,
# sustains about one job per second in all, far above a small organisation's load; the HPA adds replicas
# at 70% of the request.
RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
# reporting renders PDFs and streams backups: more memory.
RESOURCES_BY_SERVICE = {
    "reporting": {"requests": {"cpu": "100m", "memory": "384Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
}
MIN_REPLICAS = 2
MAX_REPLICAS = 4
CPU_TARGET_PERCENT = 70

# Each service's own non-secret settings (the organisation's values: set them in the overlay).
SERVICE_CONFIG: dict[str, dict[str, str]] = {
    "intake": {"PROACTIVE_LEAD_DAYS": "14", "CONSOLE_PUBLIC_URL": f"https://{PUBLIC_HOST}"},
    "dispatch": {
        "SLA_ARRIVE_WITHIN_HOURS": json.dumps({"critical": 4, "high": 8, "normal": 24, "low": 72}),
        "SLA_RESOLVE_WITHIN_HOURS": json.dumps({"critical": 24, "high": 48, "normal": 120, "low": 240}),
        "SLA_AT_RISK_FRACTION": "0.75",
        "DISPATCH_SEED_ENGINEERS": "false",  # a real organisation's engineers, not the demo's
    },
    "maintenance": {},
    "quality": {"QUALITY_ESCALATION_FAILED_ROUNDS": "3"},
    "reporting": {"BACKUP_INTERVAL_SECONDS": "86400", "BACKUP_KEEP_DAILY": "7", "BACKUP_KEEP_MONTHLY": "12"},
    "feedback": {
        "SMTP_HOST": "smtp.example.com",
        "SMTP_PORT": "587",
        "SMTP_STARTTLS": "true",
        "MAIL_SENDER": "Compressor Service <service@example.com>",
        "MANAGEMENT_EMAILS": "service-manager@example.com",
        "PUBLIC_BASE_URL": f"https://feedback.{PUBLIC_HOST}",
        "PORTAL_URL": f"https://{PUBLIC_HOST}",  # e-mailed report links lead to the portal
    },
    "telemetry": {
        # The organisation's MQTT broker that the site gateways publish to, with the access list of
        # infra/mosquitto/acl (telemetry reads gateways/+/readings; a gateway writes its own topic only).
        "MQTT_URL": "mqtts://mqtt.example.com:8883",
        "MQTT_USERNAME": "telemetry",
        "TELEMETRY_RETENTION_DAYS": "400",
        "TELEMETRY_SERVICE_LEAD_DAYS": "14",
    },
    "console": {
        "CONSOLE_PUBLIC_URL": f"https://{PUBLIC_HOST}",
        **{f"{name.upper()}_URL": f"http://{name}:{port}" for name, port in SERVICES.items() if name != "console"},
    },
}
# Secret environment variables beyond the broker, MongoDB and S3: (variable, secret key, optional).
SERVICE_SECRETS: dict[str, list[tuple[str, str, bool]]] = {
    "console": [("CONSOLE_CLIENT_SECRET", "oidc-client-secret", False)],
    "feedback": [("SMTP_USERNAME", "smtp-username", True), ("SMTP_PASSWORD", "smtp-password", True)],
    "telemetry": [("MQTT_PASSWORD", "mqtt-password", False)],
}


def labels(service: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": PART_OF}


def secret_env(variable: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": variable, "valueFrom": {"secretKeyRef": ref}}


def mongodb_hosts() -> str:
    return ",".join(f"{MONGODB}-{i}.{MONGODB}:27017" for i in range(MONGODB_MEMBERS))


def environment(service: str) -> list[dict[str, Any]]:
    """The variables set on the container itself: its port and name, and everything secret, by reference.

    The broker and MongoDB URLs carry the service's password: Kubernetes expands $(SECRET_...) from the
    variable defined just before it (read from the Secret), so the password lives only in the Secret, once,
    where the Topology Operator also reads it. The SECRET_* variables themselves are read by no setting."""
    secret = f"compressor-{service}"
    env: list[dict[str, Any]] = [
        {"name": "HTTP_PORT", "value": str(SERVICES[service])},
        {"name": "OTEL_SERVICE_NAME", "value": service},
        secret_env("SECRET_RABBITMQ_PASSWORD", f"compressor-{service}-rabbitmq", "password"),
        {
            "name": "RABBITMQ_URL",
            "value": f"amqp://{service}:$(SECRET_RABBITMQ_PASSWORD)@{RABBITMQ_CLUSTER}:5672/{access.VHOST}",
        },
        secret_env("SECRET_MONGODB_PASSWORD", secret, "mongodb-password"),
        {
            "name": "MONGODB_URL",
            "value": f"mongodb://{service}:$(SECRET_MONGODB_PASSWORD)@{mongodb_hosts()}/"
            f"?replicaSet={REPLICA_SET}&authSource=admin",
        },
        secret_env("S3_ACCESS_KEY", secret, "s3-access-key"),
        secret_env("S3_SECRET_KEY", secret, "s3-secret-key"),
    ]
    env += [secret_env(variable, secret, key, optional) for variable, key, optional in SERVICE_SECRETS.get(service, [])]
    return env


def config_map(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"compressor-{service}", "labels": labels(service)},
        "data": dict(SERVICE_CONFIG[service]),
    }


def deployment(service: str) -> dict[str, Any]:
    port = SERVICES[service]
    env_from: list[dict[str, Any]] = [{"configMapRef": {"name": "compressor-shared"}}]
    if SERVICE_CONFIG[service]:
        env_from.append({"configMapRef": {"name": f"compressor-{service}"}})
    container = {
        "name": service,
        "image": f"compressor/{service}",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "envFrom": env_from,
        "env": environment(service),
        "resources": RESOURCES_BY_SERVICE.get(service, RESOURCES),
        "startupProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "periodSeconds": 2,
            "failureThreshold": 30,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        # 503 while MongoDB, the broker or the object store is unreachable (each check bounded at 2 s).
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": "http"},
            "periodSeconds": 5,
            "timeoutSeconds": 4,
            "failureThreshold": 2,
        },
        # The endpoints controller takes the pod out of the Service before the process starts draining.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 (an emptyDir: the root filesystem is read-only)
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            "replicas": MIN_REPLICAS,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": labels(service)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels(service),
                    # Prometheus scrapes each pod inside the cluster (the Ingress refuses /metrics).
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    # Replicas on different nodes where there are several: losing a node leaves the others.
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": labels(service)},
                        }
                    ],
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
                },
            },
        },
    }


def service_object(service: str) -> dict[str, Any]:
    port = SERVICES[service]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            "selector": labels(service),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(service)}},
    }


def autoscaler(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service},
            "minReplicas": MIN_REPLICAS,
            "maxReplicas": MAX_REPLICAS,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": CPU_TARGET_PERCENT},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def topology(service: str) -> list[dict[str, Any]]:
    """The service's broker user and its permissions, exactly as infra/access.py gives them."""
    name = f"compressor-{service}"
    cluster = {"name": RABBITMQ_CLUSTER}
    configure, write, read = access.rabbitmq_permissions(service)
    topic_write, topic_read = access.rabbitmq_topic_permissions(service)
    return [
        {
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "User",
            "metadata": {"name": name, "labels": labels(service)},
            # The Secret's `username` must be the service's name: consumers check each event's AMQP
            # user_id against its producer's user (RABBITMQ_PUBLISHER_USERS, "{service}").
            "spec": {"rabbitmqClusterReference": cluster, "importCredentialsSecret": {"name": f"{name}-rabbitmq"}},
        },
        {
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "Permission",
            "metadata": {"name": name, "labels": labels(service)},
            "spec": {
                "vhost": access.VHOST,
                "userReference": {"name": name},
                "permissions": {"configure": configure, "write": write, "read": read},
                "rabbitmqClusterReference": cluster,
            },
        },
        {
            "apiVersion": "rabbitmq.com/v1beta1",
            "kind": "TopicPermission",
            "metadata": {"name": name, "labels": labels(service)},
            "spec": {
                "vhost": access.VHOST,
                "userReference": {"name": name},
                "permissions": {"exchange": access.EXCHANGE, "write": topic_write, "read": topic_read},
                "rabbitmqClusterReference": cluster,
            },
        },
    ]


def mongodb_users_job() -> dict[str, Any]:
    """Run on every apply of a changed spec (a Job is immutable: delete it to run it again, e.g. after a
    password change); it waits for the members, so it may be applied together with the StatefulSet."""
    env: list[dict[str, Any]] = [
        {"name": "MONGODB_MEMBERS", "value": mongodb_hosts()},
        {"name": "MONGODB_HOST", "value": f"{MONGODB}-0.{MONGODB}:27017"},
        {"name": "MONGODB_REPLICA_SET", "value": REPLICA_SET},
        {"name": "MONGODB_SETUP_TIMEOUT_SECONDS", "value": "600"},
        secret_env("MONGODB_ROOT_USER", "compressor-mongodb-root", "username"),
        secret_env("MONGODB_ROOT_PASSWORD", "compressor-mongodb-root", "password"),
    ]
    env += [
        secret_env(f"{service.upper()}_MONGODB_PASSWORD", f"compressor-{service}", "mongodb-password")
        for service in SERVICES
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "compressor-mongodb-users", "labels": labels("mongodb-users")},
        "spec": {
            "backoffLimit": 6,
            "template": {
                "metadata": {"labels": labels("mongodb-users")},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "mongodb-users",
                            # The project's own image has pymongo (reporting's; any service's would do).
                            "image": "compressor/reporting",
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", "python /scripts/replica_set.py && python /scripts/users.py"],
                            "env": env,
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "128Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [{"name": "scripts", "mountPath": "/scripts", "readOnly": True}],
                        }
                    ],
                    "volumes": [{"name": "scripts", "configMap": {"name": "compressor-mongodb-scripts"}}],
                },
            },
        },
    }


def mongodb_scripts() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "compressor-mongodb-scripts", "labels": labels(MONGODB)},
        "data": {
            "users.py": (ROOT / "infra/mongo/users.py").read_text(),
            "replica_set.py": (HERE / "mongo_replica_set.py").read_text(),
        },
    }


def minio_users_job() -> dict[str, Any]:
    """Creates or updates every service's access key and policy (infra/minio/users.sh), as root; like the
    MongoDB users Job it is immutable: delete it and apply again after changing a key or a policy. The
    services create their own buckets on start (their policies allow it, for their buckets only)."""
    env: list[dict[str, Any]] = [
        secret_env("S3_ACCESS_KEY", MINIO_ROOT, "username"),
        secret_env("S3_SECRET_KEY", MINIO_ROOT, "password"),
    ]
    for service in SERVICES:
        env += [
            secret_env(access.env_name(service, "S3_ACCESS_KEY"), f"compressor-{service}", "s3-access-key"),
            secret_env(access.env_name(service, "S3_SECRET_KEY"), f"compressor-{service}", "s3-secret-key"),
        ]
    # users.sh is idempotent; until the store answers, its first `mc` call fails and it is run again.
    retry = f"for attempt in $(seq {MINIO_USERS_ATTEMPTS}); do sh /scripts/users.sh && exit 0; sleep 10; done; exit 1"
    policies = [{"key": f"{service}.json", "path": f"{service}.json"} for service in SERVICES]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "compressor-minio-users", "labels": labels("minio-users")},
        "spec": {
            "backoffLimit": 6,
            "template": {
                "metadata": {"labels": labels("minio-users")},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,  # also the MinIO image's user
                        "runAsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "minio-users",
                            "image": "compressor/minio",  # the store's own image carries mc
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", retry],
                            "env": env,
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                                {"name": "policies", "mountPath": "/policies", "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (mc's configuration, MC_CONFIG_DIR)
                            ],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "scripts",
                            "configMap": {
                                "name": "compressor-minio-users",
                                "items": [{"key": "users.sh", "path": "users.sh"}],
                            },
                        },
                        {"name": "policies", "configMap": {"name": "compressor-minio-users", "items": policies}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
                    ],
                },
            },
        },
    }


def minio_scripts() -> dict[str, Any]:
    data = {"users.sh": (ROOT / "infra/minio/users.sh").read_text()}
    data |= {f"{service}.json": (ROOT / f"infra/minio/policies/{service}.json").read_text() for service in SERVICES}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "compressor-minio-users", "labels": labels(MINIO)},
        "data": data,
    }


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Scripts as readable blocks, not one escaped line.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)

HEADER = "# Generated by deploy/kubernetes/generate.py from the code: do not edit (edit the overlays).\n"


def dump(objects: list[dict[str, Any]]) -> str:
    return HEADER + yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, width=1000, explicit_start=True)


def files() -> dict[Path, str]:
    out = {
        BASE / f"services/{service}.yaml": dump(
            [
                config_map(service),
                deployment(service),
                service_object(service),
                disruption_budget(service),
                autoscaler(service),
            ]
            if SERVICE_CONFIG[service]
            else [deployment(service), service_object(service), disruption_budget(service), autoscaler(service)]
        )
        for service in SERVICES
    }
    out[BASE / "rabbitmq/topology.yaml"] = dump([obj for service in SERVICES for obj in topology(service)])
    out[BASE / "mongodb/users.yaml"] = dump([mongodb_scripts(), mongodb_users_job()])
    out[BASE / "minio/users.yaml"] = dump([minio_scripts(), minio_users_job()])
    return out


def main() -> int:
    for path, text in files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
