"""Who may touch what on the broker and the object store, per service, derived from the code.

RabbitMQ: each service gets a user named after it in the `compressor` vhost whose configure / write /
read permission regexes name exactly its own queues, its dead-letter exchange and queue, and the events
exchange it publishes to and binds from (libs/contracts topology.py); its topic permissions on the events
exchange let it publish only the routing keys of the events it produces (libs/contracts catalogue.py).
Services check every consumed event's AMQP user_id against its producer's user, named by the same
convention (RABBITMQ_PUBLISHER_USERS, "{service}" by default). MinIO: each service gets an
access key whose policy names only its own buckets (its ServiceDefinition) plus the ones it reads by
contract (feedback signs download links to reporting's report PDFs). Mosquitto: telemetry's user reads
every site gateway's readings, and each gateway publishes only under its own topic (the access list the
kit's test broker uses, compressor_kit.testing.mosquitto).

    .venv/bin/python infra/access.py          # (re)writes the files below; `make docs` runs it

writes infra/rabbitmq/users.sh (run inside the RabbitMQ container once the node is up; passwords from
the environment), infra/minio/policies/<service>.json with infra/minio/users.sh (run by the `mc` init
container) and infra/mosquitto/acl (Mosquitto's acl_file). tests/test_compose.py checks the files are
current and the permissions exact.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

from compressor_contracts.catalogue import CATALOGUE
from compressor_contracts.topology import EXCHANGE, SERVICES, service_topology
from compressor_kit.testing.mosquitto import access_list

ROOT = Path(__file__).resolve().parent.parent
VHOST = "compressor"
MQTT_READER = "telemetry"  # the one MQTT user that reads every gateway's readings (MQTT_USERNAME)
BUCKET_PREFIX = "compressor-"
DEFAULT_EXCHANGE = "amq.default"  # the nameless exchange, as permissions name it
READS_BY_CONTRACT: dict[str, tuple[str, ...]] = {
    # job.report_published names the PDF in reporting's bucket; feedback presigns the customer's link.
    "feedback": ("reports",),
    # job.signed names the signature's PNG in maintenance's bucket; the report PDF shows it.
    "reporting": ("signatures",),
}
BUCKET_ACTIONS = [
    "s3:CreateBucket",
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketVersioning",
    "s3:PutBucketVersioning",
]
OBJECT_ACTIONS = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


def env_name(service: str, what: str) -> str:
    """The deployment's environment variable holding one service's secret, e.g. INTAKE_RABBITMQ_PASSWORD."""
    return f"{service.upper()}_{what}"


def _exactly(names: list[str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in sorted(set(names))) + ")$"


def rabbitmq_resources(service: str) -> dict[str, list[str]]:
    """The exchanges and queues one service declares, publishes to and consumes from."""
    topology = service_topology(service)
    queues = [q.name for q in topology.queues] + [topology.dead_letter_queue]
    exchanges = [topology.exchange, topology.dead_letter_exchange]
    return {"queues": queues, "exchanges": exchanges}


def rabbitmq_permissions(service: str) -> tuple[str, str, str]:
    """(configure, write, read) regexes of the service's user.

    configure: declare its exchanges (events, its dead-letter fanout) and its queues.
    write: publish to the events exchange and its dead-letter exchange; bind its queues (queue.bind
    needs write on the queue); declare its queues with x-dead-letter-exchange (write on the DLX); and
    publish to the default exchange (`amq.default`): replaying a dead letter (POST /dead-letters/replay)
    re-publishes it straight to the one queue that failed it, by name, so that no other consumer bound
    to the events exchange receives the event twice. RabbitMQ checks write on the exchange only, not
    on the queue the default exchange routes to, so this lets the user publish to any queue of the
    vhost by name; the replay code publishes only to the queues of the service's own topology.
    read: consume its queues and dead-letter queue; bind from the exchanges (read on the exchange).
    """
    resources = rabbitmq_resources(service)
    names = resources["queues"] + resources["exchanges"]
    assert EXCHANGE in names
    return _exactly(names), _exactly([*names, DEFAULT_EXCHANGE]), _exactly(names)


NOTHING = "^(?!)$"  # a regex no routing key matches (an empty pattern would match them all)


def produced_events(service: str) -> list[str]:
    """The routing keys of the events this service produces (EventData.producer)."""
    return [key for key, data_type in CATALOGUE.items() if data_type.producer == service]


def rabbitmq_topic_permissions(service: str) -> tuple[str, str]:
    """(write, read) routing-key regexes of the service's user on the events exchange.

    write: publish only the routing keys of the events it produces (the console produces none), so a
    service cannot publish another's events there, whatever their `source`. read: bind its queues with
    exactly their binding patterns. (Topic permissions apply to topic exchanges only: the dead-letter
    fanouts and the default exchange are not checked. A message sent straight to a queue through the
    default exchange still carries its publisher's user_id, which the broker verifies and every
    consumer checks against the event's producer: compressor_kit.consumer.PublisherCheck.)
    """
    produced = produced_events(service)
    bindings = [pattern for queue in service_topology(service).queues for pattern in queue.bindings]
    return (_exactly(produced) if produced else NOTHING), _exactly(bindings)


def service_buckets(service: str) -> list[str]:
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    return list(definition.buckets)


def minio_policy(service: str) -> dict:
    own = [BUCKET_PREFIX + name for name in service_buckets(service)]
    read = [BUCKET_PREFIX + name for name in READS_BY_CONTRACT.get(service, ())]
    statements: list[dict] = [
        # The readiness check lists buckets (names only; no access to their content).
        {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": ["arn:aws:s3:::*"]},
    ]
    if own:
        statements.append({"Effect": "Allow", "Action": BUCKET_ACTIONS, "Resource": [f"arn:aws:s3:::{b}" for b in own]})
        statements.append(
            {"Effect": "Allow", "Action": OBJECT_ACTIONS, "Resource": [f"arn:aws:s3:::{b}/*" for b in own]}
        )
    if read:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": [f"arn:aws:s3:::{b}/*" for b in read],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def rabbitmq_script() -> str:
    lines = [
        "#!/bin/sh",
        "# Generated by infra/access.py from libs/contracts topology.py: do not edit.",
        "# One user per service in the vhost, limited to its own queues and the exchanges it uses, and on the",
        "# events exchange to the routing keys of the events it produces (write) and its bindings (read).",
        "set -eu",
        f"rabbitmqctl -q add_vhost {VHOST} 2>/dev/null || true",
    ]
    for service in SERVICES:
        password = "${" + env_name(service, "RABBITMQ_PASSWORD") + ":?}"
        configure, write, read = rabbitmq_permissions(service)
        topic_write, topic_read = rabbitmq_topic_permissions(service)
        lines += [
            f'rabbitmqctl -q add_user -- {service} "{password}" 2>/dev/null'
            f' || rabbitmqctl -q change_password -- {service} "{password}"',
            f"rabbitmqctl -q set_permissions -p {VHOST} {service} '{configure}' '{write}' '{read}'",
            f"rabbitmqctl -q set_topic_permissions -p {VHOST} {service} {EXCHANGE} '{topic_write}' '{topic_read}'",
        ]
    return "\n".join(lines) + "\n"


def minio_script() -> str:
    lines = [
        "#!/bin/sh",
        "# Generated by infra/access.py: do not edit. One access key per service, limited to its buckets.",
        "set -eu",
        'mc alias set local http://minio:9000 "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"',
    ]
    for service in SERVICES:
        key = "${" + env_name(service, "S3_ACCESS_KEY") + ":?}"
        secret = "${" + env_name(service, "S3_SECRET_KEY") + ":?}"
        lines += [
            f"mc admin policy create local compressor-{service} /policies/{service}.json",
            f'mc admin user add local "{key}" "{secret}"',
            f'mc admin policy attach local compressor-{service} --user "{key}" 2>/dev/null || true',
        ]
    return "\n".join(lines) + "\n"


def files() -> dict[Path, str]:
    out = {ROOT / "infra/rabbitmq/users.sh": rabbitmq_script(), ROOT / "infra/minio/users.sh": minio_script()}
    for service in SERVICES:
        out[ROOT / f"infra/minio/policies/{service}.json"] = json.dumps(minio_policy(service), indent=2) + "\n"
    out[ROOT / "infra/mosquitto/acl"] = access_list(MQTT_READER)
    return out


def main() -> int:
    for path, text in files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if path.suffix == ".sh":
            path.chmod(0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
