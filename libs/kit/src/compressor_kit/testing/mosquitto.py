"""A real Mosquitto MQTT broker of a test's own (Debian's `mosquitto`), with users and an access list:
telemetry reads every gateway's readings, each gateway may publish only under its own topic.

    with mosquitto_broker({"telemetry": "pw", "GW-1": "pw1"}) as port:
        ...
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from compressor_kit.testing.ports import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def access_list(reader: str, root: str = "gateways") -> str:
    """Mosquitto's acl_file: the reader subscribes to every gateway's readings; every other user is a
    gateway, which may publish only under `<root>/<its own user name>/readings` (%u)."""
    return f"user {reader}\ntopic read {root}/+/readings\n\npattern write {root}/%u/readings\n"


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A server certificate for `host` that is its own CA (openssl): (certificate, key)."""
    certificate, key = directory / "server.pem", directory / "server.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(certificate), "-subj", f"/CN={host}"),
            *("-addext", f"subjectAltName=IP:{host}"),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


def write_config(
    directory: Path, port: int, users: Mapping[str, str], reader: str, tls: tuple[Path, Path] | None = None
) -> Path:
    passwords = directory / "passwords"
    passwords.write_text("")
    for user, password in users.items():
        subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwords), user, password], check=True, capture_output=True)
    acl = directory / "acl"
    acl.write_text(access_list(reader))
    config = directory / "mosquitto.conf"
    config.write_text(
        "\n".join(
            [
                # Started as root, Mosquitto would switch to the user `mosquitto`, which cannot read
                # this private folder: it stays the user that started it.
                f"user {getpass.getuser()}",
                "per_listener_settings false",
                f"listener {port} 127.0.0.1",
                *([f"certfile {tls[0]}", f"keyfile {tls[1]}"] if tls else []),
                "allow_anonymous false",
                f"password_file {passwords}",
                f"acl_file {acl}",
                "persistence false",
                "max_queued_messages 100000",
                "log_dest stderr",
                "log_type error",
                "log_type warning",
                "",
            ]
        )
    )
    return config


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def mosquitto_broker(
    users: Mapping[str, str],
    *,
    reader: str = "telemetry",
    port: int | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[int]:
    """Start Mosquitto on `port` (else a free local port) with these users, speaking TLS with `tls`
    (certificate, key) if given; yields the port; stopped afterwards (a test restarts the broker by
    starting another on the same port)."""
    with tempfile.TemporaryDirectory(prefix="mosquitto-") as tmp:
        port = port or free_port()
        config = write_config(Path(tmp), port, users, reader, tls)
        process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"mosquitto did not start on {port}: {error}")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def open_session(port: int, username: str, password: str, topic: str, *, client_id: str | None = None) -> None:
    """Create a subscriber's persistent MQTT 5 session (QoS 1 on `topic`) and leave it: what is published
    from now on waits in it until the subscriber connects, as in service, where the session outlives
    every restart. (Published before any session exists, a message has no subscriber and is dropped.)"""
    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 86_400
    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        username=username,
        password=password,
        identifier=client_id or username,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
    ) as client:
        await client.subscribe(topic, qos=1)
