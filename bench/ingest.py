"""`make bench-ingest`: telemetry readings through MQTT into storage, beside a raw baseline.

Issue 19's scale target: with 10,000 simulated devices, readings stored per second through the
system (site gateways publish over MQTT QoS 1 to a Mosquitto of the bench's own, the telemetry service
runs as a process of its own and takes each reading in) at least half of the raw baseline measured in
the same run (the same documents with `insert_many` straight into a time-series collection made as the
service makes its own). Reports CPU-seconds per 1,000 readings by process (telemetry, mongod,
mosquitto and the load generator apart) and the storage per machine per day (the time-series
collection's storage after the run, scaled to one reading a minute for a day). Writes the result as
JSON under bench/results/ingest-<time>.json. Its own database and vhost, dropped after.

The gateways are external hardware in service, so the load generator should cost this machine as
little as possible: each gateway is one `mosquitto_pub -l` (Mosquitto's C client, one message per
stdin line), fed JSON lines by this process; its CPU is that process's plus every mosquitto_pub's.
The readings stored are counted with the service's own counter
(`compressor_telemetry_readings_accepted_total{source="mqtt"}` on its /metrics, incremented right
after the insert): counting the time-series collection unpacks every bucket, mongod CPU that would be
charged to the system. After the run the collection is counted once and must equal the counter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient, MongoClient

from bench.__main__ import cpu_seconds, infrastructure_pids
from compressor_kit.settings import Settings
from compressor_kit.testing import add_vhost, delete_vhost
from compressor_kit.testing.mosquitto import mosquitto_broker
from demo.stack import Stack

RESULTS = Path(__file__).parent / "results"
READINGS_PER_MACHINE_PER_DAY = 24 * 60  # one reading a minute, the reporting rhythm
TELEMETRY_USER = "telemetry"
LAST_SERVICE_HOURS = 20_000  # far from level A's 4,000 h interval: no reading makes a level due
LOAD_GENERATOR = "load generator"
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
# QoS 1 messages a gateway's mosquitto_pub has sent and not yet had acknowledged, at most (-M; its
# default is 20). Over MQTT 3.1.1 the broker sets no limit of its own on what a client sends.
PUBLISHER_IN_FLIGHT = 100
LINES_PER_WRITE = 10  # readings a gateway writes to its mosquitto_pub at once before the others' turn
ACCEPTED = "compressor_telemetry_readings_accepted_total"


@dataclass(frozen=True)
class Fleet:
    """The simulated machines: `gateways` site gateways with `devices_per_gateway` devices each."""

    gateways: int
    devices_per_gateway: int
    started: datetime  # the first reading's time; each device then reports a minute apart

    def gateway_ids(self) -> list[str]:
        return [f"GW-{g:04d}" for g in range(self.gateways)]

    def device_ids(self, gateway_id: str) -> list[str]:
        return [f"DEV-{gateway_id[3:]}-{d:04d}" for d in range(self.devices_per_gateway)]

    def reading(self, device_id: str, minute: int) -> dict[str, Any]:
        """The device's reading `minute` minutes after the fleet's start, as a gateway publishes it."""
        return {
            "device_id": device_id,
            "read_at": (self.started + timedelta(minutes=minute)).isoformat(),
            "running_hours": LAST_SERVICE_HOURS + 100 + minute / 60,
            "loaded_hours": LAST_SERVICE_HOURS * 0.8 + minute / 75,
            "discharge_pressure_bar": 7.5 + (minute % 7) / 10,
            "element_outlet_temperature_c": 78.0 + (minute % 11) / 2,
            "heartbeat": minute,
        }


def stored_document(reading: dict[str, Any], equipment_id: str) -> dict[str, Any]:
    """The reading as telemetry stores it (readings/store.py: the payload's fields and the machine)."""
    return {**reading, "read_at": datetime.fromisoformat(reading["read_at"]), "equipment_id": equipment_id}


def equipment_of(device_id: str) -> str:
    return "EQ-" + device_id[4:]


def device_documents(fleet: Fleet, registered_at: datetime) -> list[dict[str, Any]]:
    """Every device as telemetry's devices/store.py registers it (bulk, straight into its collection)."""
    last_service_on = (registered_at - timedelta(days=30)).date().isoformat()
    return [
        {
            "_id": device_id,
            "equipment_id": equipment_of(device_id),
            "gateway_id": gateway_id,
            "controller_family": "elektronikon",
            "service_levels": [{"level": "A", "hours": 4000, "months": 12}],
            "last_service_on": last_service_on,
            "last_service_hours": LAST_SERVICE_HOURS,
            "registered_at": registered_at,
        }
        for gateway_id in fleet.gateway_ids()
        for device_id in fleet.device_ids(gateway_id)
    ]


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (/proc/stat: all but idle and iowait): the machine is
    shared, and what the other processes used says how far these figures are disturbed."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


OPERATIONS = ("queries", "getmore", "insert", "update", "remove", "commands")


async def operation_times(client: Any, database: str) -> dict[str, float]:
    """Milliseconds MongoDB has spent so far on each collection of `database`, by operation (`top`):
    the share of a shared mongod that is this database's, which its CPU figure cannot tell apart."""
    totals = (await client.admin.command("top"))["totals"]
    return {
        f"{namespace.split('.', 1)[1]} {operation}": figures[operation]["time"] / 1000
        for namespace, figures in totals.items()
        if namespace.startswith(f"{database}.")
        for operation in OPERATIONS
        if figures[operation]["count"]
    }


def operation_times_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    spent = {key: after[key] - before.get(key, 0.0) for key in after}
    return {key: ms for key, ms in sorted(spent.items(), key=lambda item: -item[1]) if ms > 0}


def per_thousand(cpu_by_process: dict[str, float], readings: int) -> dict[str, float]:
    """Per 1,000 readings stored (CPU-seconds by process, milliseconds by operation), in the same order."""
    return {name: 1000 * seconds / max(1, readings) for name, seconds in cpu_by_process.items()}


def storage_per_machine_per_day(
    storage_bytes: float, readings: int, readings_per_day: int = READINGS_PER_MACHINE_PER_DAY
) -> float:
    """Bytes one machine's readings take a day: the bytes per stored reading times its readings a day."""
    return storage_bytes / readings * readings_per_day if readings else float("nan")


def rate_over(samples: list[tuple[float, int]], since: float) -> float:
    """Readings per second between the first sample at or after `since` and the last one
    (samples: (seconds, readings stored so far), in time order)."""
    window = [sample for sample in samples if sample[0] >= since]
    if len(window) < 2 or window[-1][0] <= window[0][0]:
        return float("nan")
    return (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])


async def ensure_timeseries(db: Any, name: str) -> None:
    """A time-series collection made as telemetry makes `readings` (readings/store.py)."""
    await db.create_collection(
        name,
        timeseries={"timeField": "read_at", "metaField": "device_id", "granularity": "minutes"},
        expireAfterSeconds=400 * 86_400,
    )
    await db[name].create_index([("device_id", 1), ("read_at", -1)], name="device_recent")


async def storage_stats(db: Any, name: str) -> dict[str, Any]:
    """The collection's storage, once MongoDB has written what it holds to disk (fsync: a checkpoint),
    so that its compressed size is the size on disk, not the size before the first checkpoint."""
    await db.client.admin.command("fsync")
    stats = await (await db[name].aggregate([{"$collStats": {"storageStats": {}}}])).to_list()
    storage = stats[0]["storageStats"]
    return {
        "readings": await db[name].count_documents({}),
        "storage_bytes": storage.get("storageSize", 0),
        "index_bytes": storage.get("totalIndexSize", 0),
        "uncompressed_bytes": storage.get("size", 0),
        "buckets": storage.get("timeseries", {}).get("bucketCount"),
    }


async def raw_baseline(db: Any, fleet: Fleet, rounds: int, batch: int, in_flight: int) -> dict[str, Any]:
    """The same documents as the system stores, `insert_many` straight into a time-series collection:
    `rounds` readings of every device, in batches of `batch`, `in_flight` batches at a time."""
    name = "baseline_readings"
    await ensure_timeseries(db, name)
    documents = [
        stored_document(fleet.reading(device_id, minute), equipment_of(device_id))
        for minute in range(rounds)
        for gateway_id in fleet.gateway_ids()
        for device_id in fleet.device_ids(gateway_id)
    ]
    batches = iter(range(0, len(documents), batch))
    watched = {"mongod": [infrastructure_pids()["mongod"]], LOAD_GENERATOR: [os.getpid()]}

    async def inserter() -> None:
        for start in batches:
            await db[name].insert_many(documents[start : start + batch], ordered=False)

    cpu_before, started = {n: cpu_seconds(pids) for n, pids in watched.items()}, time.perf_counter()
    await asyncio.gather(*(inserter() for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    cpu = {n: cpu_seconds(pids) - cpu_before[n] for n, pids in watched.items()}
    storage = await storage_stats(db, name)
    return {
        "readings": len(documents),
        "batch": batch,
        "in_flight": in_flight,
        "seconds": elapsed,
        "readings_per_second": len(documents) / elapsed,
        "cpu_seconds_per_1000_readings_by_process": per_thousand(cpu, len(documents)),
        "storage": storage,
        "storage_bytes_per_machine_per_day": storage_per_machine_per_day(storage["storage_bytes"], storage["readings"]),
    }


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def counter_value(metrics_text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`, in Prometheus's text format
    (0 when there is none: a counter never incremented has no sample for its labels yet)."""
    wanted = set(labels.items())
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name + "{"):
            label_text, _, rest = line[len(name) + 1 :].rpartition("}")
            if wanted <= set(_LABEL.findall(label_text)):
                total += float(rest.split()[0])
        elif line.startswith(name + " ") and not wanted:
            total += float(line.split()[1])
    return total


class AcceptedCounter:
    """The readings telemetry has stored from MQTT so far, as its /metrics counts them (the service
    increments the counter right after the insert): counting the time-series collection itself would
    unpack every bucket, twice a second, on the mongod whose CPU is charged to the system."""

    def __init__(self, http: httpx.AsyncClient, service_url: str) -> None:
        self.http, self.url = http, service_url.rstrip("/") + "/metrics"

    async def __call__(self) -> int:
        answer = await self.http.get(self.url)
        answer.raise_for_status()
        return int(counter_value(answer.text, ACCEPTED, source="mqtt"))


class Gateways:
    """The load generator: every gateway publishes its devices' readings, a minute apart per device,
    QoS 1, as fast as the broker acknowledges, while no more than `backlog` readings wait unstored (so
    the broker's queue for telemetry stays bounded and the publishers' CPU matches what is stored).

    The gateways are hardware outside this machine in service, so they should cost it as little as
    possible: each is a `mosquitto_pub -l` of its own (Mosquitto's C client: one connection, one QoS 1
    message per line read from its stdin), and this process only writes each reading into it as one
    JSON line. Their CPU is counted with this process's as the load generator's (`pids`)."""

    def __init__(self, fleet: Fleet, port: int, passwords: dict[str, str], backlog: int) -> None:
        self.fleet, self.port, self.passwords, self.backlog = fleet, port, passwords, backlog
        self.published = 0  # readings written to the publishers (lines)
        self.stored = 0  # the sampler's latest count
        self.running = True
        self.room = asyncio.Event()  # set while fewer than `backlog` readings wait unstored
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    async def start(self) -> None:
        for gateway_id in self.fleet.gateway_ids():
            self.processes[gateway_id] = await asyncio.create_subprocess_exec(
                MOSQUITTO_PUB,
                *("-h", "127.0.0.1", "-p", str(self.port), "-u", gateway_id, "-P", self.passwords[gateway_id]),
                *("-t", f"gateways/{gateway_id}/readings", "-q", "1", "-l", "-M", str(PUBLISHER_IN_FLIGHT)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes.values()]

    async def check_alive(self) -> None:
        """A publisher that has exited while the gateways run is an error (refused, disconnected...)."""
        for gateway_id, process in self.processes.items():
            if process.returncode is not None:
                error = await process.stderr.read() if process.stderr else b""
                raise RuntimeError(
                    f"a gateway failed: {gateway_id}'s mosquitto_pub exited with {process.returncode}: "
                    f"{error.decode(errors='replace').strip()}"
                )

    def count_stored(self, stored: int) -> None:
        self.stored = stored
        if self.published - stored < self.backlog or not self.running:
            self.room.set()

    def stop(self) -> None:
        self.running = False
        self.room.set()

    async def gateway(self, gateway_id: str) -> None:
        devices = self.fleet.device_ids(gateway_id)
        stdin = self.processes[gateway_id].stdin
        assert stdin is not None
        minute, device = 0, 0
        while self.running:
            room = self.backlog - (self.published - self.stored)
            if room <= 0:
                self.room.clear()
                await self.room.wait()
                continue
            lines = []
            for _ in range(min(room, LINES_PER_WRITE)):
                lines.append(json.dumps(self.fleet.reading(devices[device], minute)))
                device += 1
                if device == len(devices):
                    minute, device = minute + 1, 0
            self.published += len(lines)
            stdin.write(("\n".join(lines) + "\n").encode())
            await stdin.drain()
            await asyncio.sleep(0)  # the other gateways' turn

    async def close(self, timeout: float = 15.0) -> dict[str, int | None]:
        """End every publisher's input and wait for it to send what it has and exit (it waits for the
        broker's acknowledgements first); killed if it has not exited within `timeout`. Exit codes."""
        for process in self.processes.values():
            if process.stdin is not None and not process.stdin.is_closing():
                process.stdin.close()
        waits = asyncio.gather(*(process.wait() for process in self.processes.values()))
        try:
            await asyncio.wait_for(asyncio.shield(waits), timeout)
        except TimeoutError:
            for process in self.processes.values():
                if process.returncode is None:
                    process.kill()
            await waits
        return {gateway_id: process.returncode for gateway_id, process in self.processes.items()}


async def system_run(
    readings: Any,
    accepted: AcceptedCounter,
    fleet: Fleet,
    port: int,
    passwords: dict[str, str],
    watched: dict[str, list[int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Gateways publish for warm-up + `seconds`; the readings stored are counted twice a second (the
    service's counter), and the rate and the CPU are taken over the measured window (after the warm-up)
    only. After the gateways stop and the service has drained, the collection is counted once: it must
    hold what the counter says."""
    gateways = Gateways(fleet, port, passwords, args.backlog)
    samples: list[tuple[float, int]] = []
    cpu_before: dict[str, float] = {}
    window_start = (0.0, 0, 0)
    tasks: list[asyncio.Task[None]] = []
    try:
        await gateways.start()
        load_generator = {"bench process": watched.get(LOAD_GENERATOR, []), "mosquitto_pub": gateways.pids()}
        watched = {**watched, LOAD_GENERATOR: [pid for pids in load_generator.values() for pid in pids]}
        started = time.perf_counter()
        tasks = [asyncio.create_task(gateways.gateway(g)) for g in fleet.gateway_ids()]
        while (now := time.perf_counter() - started) < args.warmup + args.seconds:
            gateways.count_stored(await accepted())
            samples.append((now, gateways.stored))
            if not cpu_before and now >= args.warmup:
                cpu_before = {name: cpu_seconds(pids) for name, pids in watched.items()}
                parts_before = {part: cpu_seconds(pids) for part, pids in load_generator.items()}
                machine_before = machine_cpu_seconds()
                operations_before = await operation_times(readings.database.client, readings.database.name)
                window_start = (now, gateways.stored, gateways.published)
            for task in tasks:
                if task.done() and task.exception():
                    raise RuntimeError(f"a gateway failed: {task.exception()!r}")
            await gateways.check_alive()
            await asyncio.sleep(0.5)
        # Every publisher is still running: /proc has their CPU until they exit.
        cpu = {name: cpu_seconds(pids) - cpu_before[name] for name, pids in watched.items()}
        parts = {part: cpu_seconds(pids) - parts_before[part] for part, pids in load_generator.items()}
        machine = machine_cpu_seconds() - machine_before
        operations = operation_times_between(
            operations_before, await operation_times(readings.database.client, readings.database.name)
        )
        stored = await accepted()
        ended = time.perf_counter() - started
        samples.append((ended, stored))
        await gateways.check_alive()
    finally:
        gateways.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        exit_codes = await gateways.close()
    failed = {gateway_id: code for gateway_id, code in exit_codes.items() if code != 0}
    if failed:
        raise RuntimeError(f"gateways' mosquitto_pub exited with errors at the end: {failed}")
    await drained(accepted, timeout=args.drain_seconds)
    counted = await accepted()
    in_collection = await readings.count_documents({})
    measured_readings = stored - window_start[1]
    return {
        "gateways": fleet.gateways,
        "devices": fleet.gateways * fleet.devices_per_gateway,
        "load_generator": f"one mosquitto_pub -l -q 1 -M {PUBLISHER_IN_FLIGHT} per gateway",
        "warmup_seconds": args.warmup,
        "seconds": ended - window_start[0],
        "readings_published": gateways.published,
        "readings_published_in_window": gateways.published - window_start[2],
        "readings_stored_in_window": measured_readings,
        "readings_counted_by_service": counted,
        "readings_in_collection": in_collection,
        "readings_per_second": rate_over(samples, window_start[0]),
        "cpu_seconds_by_process": cpu,
        "cpu_seconds_per_1000_readings_by_process": per_thousand(cpu, measured_readings),
        "load_generator_cpu_seconds_per_1000_readings": per_thousand(parts, measured_readings),
        "cores_used_by_process": {name: seconds / (ended - window_start[0]) for name, seconds in cpu.items()},
        "mongod_operation_ms_per_1000_readings": per_thousand(operations, measured_readings),
        "machine_cores_busy": machine / (ended - window_start[0]),
        "other_processes_cores_busy": (machine - sum(cpu.values())) / (ended - window_start[0]),
        "stored_over_time": [(round(t, 2), n) for t, n in samples],
    }


async def drained(accepted: AcceptedCounter, *, timeout: float) -> None:
    """Wait until the readings stored (the service's counter) stop growing: the service is stopped with
    no transaction open (a transaction cut short holds its locks until MongoDB's lifetime limit, 60 s,
    and the database could not be dropped before)."""
    deadline, last = time.monotonic() + timeout, -1
    while (count := await accepted()) != last and time.monotonic() < deadline:
        last = count
        await asyncio.sleep(1.0)


async def day_of_storage(db: Any, fleet: Fleet, machines: int) -> dict[str, Any]:
    """Storage of a whole day of readings, one a minute, for `machines` machines, in a time-series
    collection made as telemetry's: the buckets as full as they are in service (a short run leaves
    each device with a few readings, so its buckets are mostly overhead)."""
    name = "day_of_readings"
    await ensure_timeseries(db, name)
    devices = [d for g in fleet.gateway_ids() for d in fleet.device_ids(g)][:machines]
    for minute in range(0, READINGS_PER_MACHINE_PER_DAY, 60):
        hour = [
            stored_document(fleet.reading(device_id, minute + m), equipment_of(device_id))
            for device_id in devices
            for m in range(60)
        ]
        await db[name].insert_many(hour, ordered=False)
    storage = await storage_stats(db, name)
    return {
        "machines": len(devices),
        **storage,
        "storage_bytes_per_machine_per_day": storage["storage_bytes"] / max(1, len(devices)),
        "index_bytes_per_machine_per_day": storage["index_bytes"] / max(1, len(devices)),
    }


def child_pid(name: str) -> int | None:
    """A process of ours called `name` (the bench's own Mosquitto, not a shared one)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            command, fields = stat.read_text().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        if command == name and int(fields.split()[1]) == os.getpid():
            return int(stat.parent.name)
    return None


async def main(args: argparse.Namespace) -> int:
    settings = Settings(environment="test")  # the local servers
    mongodb_url = settings.mongodb_url.get_secret_value()
    run_id = uuid.uuid4().hex[:8]
    vhost, prefix = f"bench-ingest-{run_id}", f"bench_ingest_{run_id}_"
    fleet = Fleet(args.gateways, args.devices_per_gateway, datetime.now(UTC).replace(microsecond=0) - timedelta(days=2))
    passwords = {TELEMETRY_USER: f"pw-{run_id}"} | {g: f"pw-{g}-{run_id}" for g in fleet.gateway_ids()}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    add_vhost(vhost)
    try:
        devices = fleet.gateways * fleet.devices_per_gateway
        print(f"raw baseline: insert_many of {args.baseline_rounds} readings of {devices} devices ...")
        baseline = await raw_baseline(
            client[f"{prefix}baseline"], fleet, args.baseline_rounds, args.baseline_batch, args.baseline_in_flight
        )
        print(f"   {baseline['readings_per_second']:.0f} readings/s")
        print(f"storage: a day of readings, one a minute, of {args.storage_machines} machines ...")
        full_day = await day_of_storage(client[f"{prefix}baseline"], fleet, args.storage_machines)
        with mosquitto_broker(passwords, reader=TELEMETRY_USER) as port:
            stack = Stack(
                rabbitmq_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
                database_prefix=prefix,
                bucket_prefix=f"{vhost}-",
                log_dir=Path("var/log/bench"),
                services=("telemetry",),
                env={
                    "LOG_LEVEL": "WARNING",
                    "MQTT_URL": f"mqtt://127.0.0.1:{port}",
                    "MQTT_USERNAME": TELEMETRY_USER,
                    "MQTT_PASSWORD": passwords[TELEMETRY_USER],
                },
            )
            db = client[f"{prefix}telemetry"]
            await db["devices"].insert_many(device_documents(fleet, datetime.now(UTC)), ordered=False)
            with stack:
                telemetry = stack.process("telemetry").process.pid
                mosquitto = child_pid("mosquitto")
                watched = {
                    "telemetry": [telemetry],
                    "mongod": [infrastructure_pids()["mongod"]],
                    LOAD_GENERATOR: [os.getpid()],  # and the gateways' mosquitto_pub, once started
                }
                if mosquitto is not None:
                    watched["mosquitto"] = [mosquitto]
                print(
                    f"system: {fleet.gateways} gateways x {fleet.devices_per_gateway} devices publish over MQTT QoS 1 "
                    f"(mosquitto_pub) for {args.warmup:.0f} + {args.seconds:.0f} s ..."
                )
                async with httpx.AsyncClient(timeout=10.0) as http:
                    accepted = AcceptedCounter(http, stack.url("telemetry"))
                    system = await system_run(db["readings"], accepted, fleet, port, passwords, watched, args)
            system["storage"] = await storage_stats(db, "readings")
            system["storage_bytes_per_machine_per_day"] = storage_per_machine_per_day(
                system["storage"]["storage_bytes"], system["storage"]["readings"]
            )
            system["rejections"] = await db["rejections"].count_documents({})
    finally:
        await client.close()
        sync_client: MongoClient[dict[str, Any]]
        with MongoClient(mongodb_url) as sync_client:
            for name in sync_client.list_database_names():
                if name.startswith(prefix):
                    sync_client.drop_database(name)
        delete_vhost(vhost)
    ratio = system["readings_per_second"] / baseline["readings_per_second"]
    report = {
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "baseline": baseline,
        "system": system,
        "storage_of_a_full_day": full_day,
        "ratio_to_baseline": ratio,
        "target_ratio": 0.5,
    }
    show(report)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"written {path}")
    return 0 if system["rejections"] == 0 and counts_agree(system) else 1


def counts_agree(system: dict[str, Any]) -> bool:
    return bool(system["readings_counted_by_service"] == system["readings_in_collection"])


def show(report: dict[str, Any]) -> None:
    system, baseline = report["system"], report["baseline"]
    print(f"\n== telemetry ingest, {system['devices']} devices on {system['gateways']} gateways")
    print(
        f"   through MQTT into storage: {system['readings_per_second']:.0f} readings/s "
        f"({system['readings_stored_in_window']} stored in {system['seconds']:.1f} s; "
        f"rejections {system['rejections']})"
    )
    print(
        f"   counted by the service {system['readings_counted_by_service']}, "
        f"in the collection {system['readings_in_collection']} (after the drain)"
    )
    if not counts_agree(system):
        print(
            f"   WARNING: the service's counter ({ACCEPTED}) and the collection disagree: "
            "the rate and the CPU per 1,000 readings rest on the counter"
        )
    print(
        f"   the machine ({report['machine']['cpus']} cores) was busy {system['machine_cores_busy']:.2f} cores, "
        f"of which processes outside this benchmark {system['other_processes_cores_busy']:.2f}"
    )
    print(f"   raw baseline (insert_many): {baseline['readings_per_second']:.0f} readings/s")
    print(f"   ratio: {report['ratio_to_baseline']:.3f} (target >= {report['target_ratio']})")
    by_process = ", ".join(f"{n} {s:.2f}" for n, s in system["cpu_seconds_per_1000_readings_by_process"].items())
    print(f"   CPU-seconds per 1,000 readings: {by_process}")
    parts = ", ".join(f"{n} {s:.3f}" for n, s in system["load_generator_cpu_seconds_per_1000_readings"].items())
    print(f"     of which the load generator's: {parts}")
    by_process = ", ".join(f"{n} {s:.2f}" for n, s in baseline["cpu_seconds_per_1000_readings_by_process"].items())
    operations = system["mongod_operation_ms_per_1000_readings"]
    print(f"   MongoDB time on the service's database per 1,000 readings: {sum(operations.values()) / 1000:.2f} s")
    print("     " + ", ".join(f"{key} {ms / 1000:.2f}" for key, ms in list(operations.items())[:6]))
    print(f"   baseline CPU-seconds per 1,000 readings: {by_process}")
    for label, figures in (("system", system), ("baseline", baseline)):
        storage = figures["storage"]
        print(
            f"   storage per machine per day, scaled from the {label}'s collection: "
            f"{figures['storage_bytes_per_machine_per_day'] / 1024:.1f} KiB ({storage['storage_bytes']} B on disk "
            f"for {storage['readings']} readings, indexes {storage['index_bytes']} B)"
        )
    day = report["storage_of_a_full_day"]
    print(
        f"   storage per machine per day (a full day of {day['machines']} machines, one reading a minute): "
        f"{day['storage_bytes_per_machine_per_day'] / 1024:.1f} KiB, "
        f"indexes {day['index_bytes_per_machine_per_day'] / 1024:.1f} KiB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=100)
    parser.add_argument("--devices-per-gateway", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=45.0, help="how long the measured window lasts")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before the window starts")
    parser.add_argument(
        "--backlog",
        type=int,
        default=4000,
        help="readings published but not yet stored, at most: twice the 2,000 the service takes unacknowledged, "
        "so that readings always wait for it in the broker, as behind a fleet it cannot keep up with",
    )
    parser.add_argument("--drain-seconds", type=float, default=20.0, help="wait at most this long for the backlog")
    parser.add_argument("--storage-machines", type=int, default=50, help="machines in the full day's storage sample")
    parser.add_argument("--baseline-rounds", type=int, default=5, help="readings per device in the baseline")
    parser.add_argument("--baseline-batch", type=int, default=1000)
    parser.add_argument("--baseline-in-flight", type=int, default=2)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
