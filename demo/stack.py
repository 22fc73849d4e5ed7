"""The six phase services and telemetry as separate local processes, for the end-to-end tests and the benchmark.

Each stack is one isolated deployment: its own RabbitMQ vhost (given), its own databases (a name
prefix), its own buckets (a prefix), and any number of replicas per service on free ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from compressor_kit.testing.ports import free_port

SERVICES = ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry")


def is_ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class ServiceProcess:
    service: str
    replica: int
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    rabbitmq_url: str
    database_prefix: str
    bucket_prefix: str
    log_dir: Path
    replicas: int = 1
    env: dict[str, str] = field(default_factory=dict)
    # Per service, the `python` arguments that start it instead of `-m <service>_service` (the fault
    # tests start a victim through `compressor_kit.testing.faults`).
    commands: dict[str, list[str]] = field(default_factory=dict)
    processes: list[ServiceProcess] = field(default_factory=list)
    # Which of SERVICES to start (the console's tests start only those their pages call).
    services: tuple[str, ...] = SERVICES

    def start(self, timeout: float = 90.0) -> Stack:
        """Spawn every replica and wait until each is ready; on failure, stop what was spawned."""
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> Stack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            for replica in range(self.replicas):
                self._spawn(service, replica)
        self._wait_ready(list(self.processes), timeout)
        return self

    def add(self, service: str, env: dict[str, str] | None = None, timeout: float = 90.0) -> ServiceProcess:
        """Start one more process (the console, after the services it calls) and wait until it is ready."""
        replica = sum(1 for p in self.processes if p.service == service)
        self._spawn(service, replica, env=env)
        proc = self.process(service, replica)
        self._wait_ready([proc], timeout)
        return proc

    def _wait_ready(self, waiting: list[ServiceProcess], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while waiting:
            for proc in list(waiting):
                if proc.process.poll() is not None:
                    raise RuntimeError(f"{proc.service}#{proc.replica} exited:\n{proc.log.read_text()[-3000:]}")
                if is_ready(proc.url):
                    waiting.remove(proc)
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout} s: {[p.service for p in waiting]}")
            time.sleep(0.2)

    def _spawn(
        self,
        service: str,
        replica: int,
        port: int | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        port = port or free_port()
        log = self.log_dir / f"{service}-{replica}.log"
        env = {
            **os.environ,
            "ENVIRONMENT": "test",
            "HTTP_PORT": str(port),
            "RABBITMQ_URL": self.rabbitmq_url,
            "MONGODB_DATABASE": "",
            "MONGODB_DATABASE_PREFIX": self.database_prefix,
            "S3_BUCKET_PREFIX": self.bucket_prefix,
            "OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
            "OTEL_SERVICE_NAME": service,
            **self.env,
            **(env or {}),
        }
        process = subprocess.Popen(
            [sys.executable, *(command or self.commands.get(service) or ["-m", f"{service}_service"])],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(ServiceProcess(service, replica, port, process, log))

    def process(self, service: str, replica: int = 0) -> ServiceProcess:
        return next(p for p in self.processes if p.service == service and p.replica == replica)

    def restart(
        self,
        service: str,
        replica: int = 0,
        *,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        timeout: float = 90.0,
    ) -> ServiceProcess:
        """Start the replica again on its port (SIGKILLing it first if it still runs) and wait until it is
        ready; `env` overrides the stack's environment for the new process, `command` its start command.
        The old log moves to `<service>-<replica>.before-restart.log`."""
        old = self.process(service, replica)
        if old.process.poll() is None:
            old.process.kill()
        old.process.wait()
        self.processes.remove(old)
        previous = old.log.read_text()
        self._spawn(service, replica, port=old.port, env=env, command=command)
        new = self.process(service, replica)
        new.log.with_name(f"{service}-{replica}.before-restart.log").write_text(previous)
        deadline = time.monotonic() + timeout
        while not is_ready(new.url):
            if new.process.poll() is not None:
                raise RuntimeError(f"{service}#{replica} exited:\n{new.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service}#{replica} not ready after {timeout} s")
            time.sleep(0.2)
        return new

    def url(self, service: str, replica: int = 0) -> str:
        return next(p.url for p in self.processes if p.service == service and p.replica == replica)

    def urls(self, replica: int = 0) -> dict[str, str]:
        return {service: self.url(service, replica) for service in self.services}

    def stop(self) -> dict[str, int]:
        for proc in self.processes:
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        codes = {}
        for proc in self.processes:
            try:
                codes[f"{proc.service}#{proc.replica}"] = proc.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                codes[f"{proc.service}#{proc.replica}"] = proc.process.wait()
        return codes

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
