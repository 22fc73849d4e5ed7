"""`make demo`: one service job (or JOBS=n at once) through all nine phases on the running services.

The simulated people act only through the services' public HTTP APIs. Each phase is shown as it
completes; then the job's timeline, the report link, the customer-file entry, the KPIs and the trace
id to look the job up in a tracing UI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from demo.flow import PHASES, JobResult, Office, machine_telemetry, run_job

SERVICES = {
    "intake": 8001,
    "dispatch": 8002,
    "maintenance": 8003,
    "quality": 8004,
    "reporting": 8005,
    "feedback": 8006,
    "telemetry": 8007,
}
CONSOLE_PORT = 8000
# The local Mosquitto (infra/mosquitto.sh) and the demo's site gateway on it: development credentials only.
MQTT_URL = "mqtt://127.0.0.1:1883"
DEMO_GATEWAY, DEV_PASSWORD = "GW-DEMO", "local-development-password"
SEED = Path(__file__).resolve().parents[1] / "infra/idp/seed.json"
SEED_PASSWORD = json.loads(SEED.read_text())["local_password"]
console = Console()


def show_console(host: str) -> None:
    """Where the staff's console is, and who can sign in to it (the local provider's seed people)."""
    seed = json.loads(SEED.read_text())
    table = Table(title=f"The console: http://{host}:{CONSOLE_PORT} (left running)", title_justify="left")
    for column in ("username", "name", "role"):
        table.add_column(column)
    for person in seed["people"]:
        table.add_row(person["username"], person["name"], ", ".join(person["roles"]))
    console.print(table)
    console.print(
        f"Sign in with any username above and the password [bold]{seed['local_password']}[/] "
        "(the local provider's development password). Each person's menu shows their part: aisyah takes calls, "
        "daniel assigns from the unassigned queue, lim works his jobs at /field (try a phone-sized window), "
        "meiling inspects, rahman approves plans and reads the dashboard, reports and reviews, siti sees dead "
        "letters; customers are shown the way to their portal."
    )


async def show_portal(office: Office, host: str, result: JobResult) -> None:
    """Where the job's customer (who prefers Bahasa Melayu) sees it: their portal and their sign-in."""
    customer = await office.customer(result.customer_id)
    portal = f"http://{host}:{CONSOLE_PORT}/portal"
    console.print(
        f"[bold]The customer's portal[/] (in Bahasa Melayu, the contact's preferred language): {portal}\n"
        f"  the job: {portal}/jobs/{result.job_id}   its report: {portal}/jobs/{result.job_id}/report\n"
        f"  sign in as [bold]{customer.username}[/] with the password [bold]{SEED_PASSWORD}[/]; "
        "the BM/EN switch at the top changes the language"
    )


async def check_ready(client: httpx.AsyncClient, urls: dict[str, str]) -> bool:
    table = Table(title="Services", title_justify="left")
    for column in ("service", "url", "state", "rabbitmq", "mongodb", "object store", "sign-in"):
        table.add_column(column)
    all_ready = True
    for name, url in urls.items():
        try:
            response = await client.get(f"{url}/health/ready")
            body, ok = response.json(), response.status_code == 200
        except httpx.HTTPError as error:
            body, ok = {"checks": {}}, False
            body["detail"] = str(error)
        checks = body.get("checks", {})
        all_ready &= ok
        table.add_row(
            name,
            url,
            "[green]ready" if ok else "[red]not ready",
            checks.get("rabbitmq", "-"),
            checks.get("mongodb", "-"),
            checks.get("object_store", "-"),
            checks.get("identity_provider", "-"),
        )
    console.print(table)
    return all_ready


def _actor(actor: object) -> str:
    return str(actor.get("name") or actor.get("id")) if isinstance(actor, dict) else str(actor or "")


def show_one(result: JobResult) -> None:
    console.rule(f"[bold]Job {result.job_id}: summary")
    timeline = Table(title="Timeline (from reporting: every event in order)", title_justify="left")
    for column in ("time", "phase", "event", "round", "actor"):
        timeline.add_column(column)
    for event in result.timeline.get("events", []):
        timeline.add_row(
            str(event.get("time", ""))[11:23],
            str(event.get("phase") or "-"),
            str(event.get("event") or event.get("type")),
            str(event.get("round") or ""),
            _actor(event.get("actor")),
        )
    console.print(timeline)
    spent = Table(title="Time in each phase (as recorded by reporting)", title_justify="left")
    spent.add_column("phase")
    spent.add_column("round")
    spent.add_column("seconds", justify="right")
    for phase in result.timeline.get("phases", []):
        spent.add_row(str(phase.get("phase")), str(phase.get("round") or ""), f"{phase.get('seconds') or 0:.2f}")
    console.print(spent)
    report = result.record.get("report", {})
    console.print(
        f"[bold]Report PDF[/]: s3://{report.get('bucket')}/{report.get('object_key')} sha256 {report.get('sha256')}"
    )
    console.print(f"  download (expires {result.report_link.get('expires_at')}):\n  {result.report_link.get('url')}")
    for site in result.customer_file.get("sites", []):
        for unit in site.get("equipment", []):
            for entry in unit.get("history", []):
                if entry.get("job_id") == result.job_id:
                    parts = ", ".join(f"{p['quantity']:g} x {p['part_number']}" for p in entry.get("parts_used", []))
                    console.print(
                        f"[bold]Customer file[/] {result.customer_id} / {unit.get('equipment_id')} "
                        f"({unit.get('model_code')}): service of {entry.get('service_date')} by "
                        f"{entry.get('engineer', {}).get('name')}\n  cause: {entry.get('root_cause')}\n"
                        f"  repair: {entry.get('repair_method')}\n  parts: {parts}\n"
                        f"  {entry.get('labour_hours')} h labour, {entry.get('inspection_rounds')} inspection rounds, "
                        f"CSAT {entry.get('csat')}, NPS {entry.get('nps')}\n"
                        f"  next service due {unit.get('next_service_due_on')}"
                    )


async def show_kpis(office: Office) -> None:
    now = datetime.now(UTC)
    kpis = await office.manager.get(
        "reporting",
        "/kpis",
        params={"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()},
    )
    overall = kpis.get("overall", {})
    table = Table(title="KPIs over the last day (reporting, MongoDB aggregation)", title_justify="left")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for key, value in overall.items():
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)


async def main(jobs: int, host: str) -> int:
    urls = {name: f"http://{host}:{port}" for name, port in SERVICES.items()}
    async with httpx.AsyncClient(timeout=30) as client:
        if not await check_ready(client, {**urls, "console": f"http://{host}:{CONSOLE_PORT}"}):
            console.print("[red]Some services are not ready: see var/log/<service>.log")
            return 1
        office = Office(urls, client)
        staff = (office.reception, office.dispatcher, office.inspector, office.manager)
        for person in staff:
            await person.access_token()
        console.print(
            f"Signed in at {office.settings.oidc_issuer} (code flow with PKCE, the provider's own login form): "
            + ", ".join(f"{p.name} as {p.username}" for p in staff)
            + ". Engineers and the customer sign in as themselves when their turn comes; the demo-driver "
            "client registers the accounts of customers and engineers the demo creates."
        )
        await office.stock_parts_for(jobs)
        if jobs > 1:
            await office.staff_engineers_for(jobs)
        console.rule(f"[bold]{jobs} service job(s) through the nine phases")
        started = time.perf_counter()
        if jobs == 1:

            def on_phase(job_id: str, phase: int, detail: str, seconds: float) -> None:
                console.print(
                    f"[green]✔[/] phase {phase} [bold]{PHASES[phase]}[/] [dim]({seconds:.2f} s)[/]\n    {detail}"
                )

            result = await run_job(office, 1, on_phase)
            results = [result]
            console.rule("[bold]A machine raises its own job: controller readings over MQTT cross service level A")
            machine = await run_job(
                office, 2, on_phase, request=machine_telemetry(MQTT_URL, DEMO_GATEWAY, DEV_PASSWORD)
            )
            console.print(f"{machine.job_id} was raised by {machine.equipment_id}'s own readings (telemetry)")
        else:
            progress = Progress(
                TextColumn("{task.description:<58}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            )
            tasks = {phase: progress.add_task(f"{phase}. {PHASES[phase]}", total=jobs) for phase in PHASES}

            def on_phase(job_id: str, phase: int, detail: str, seconds: float) -> None:
                progress.advance(tasks[phase])

            with Live(progress, console=console, refresh_per_second=8):
                outcomes = await asyncio.gather(
                    *(run_job(office, n, on_phase) for n in range(1, jobs + 1)), return_exceptions=True
                )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            results = [o for o in outcomes if isinstance(o, JobResult)]
            for failure in failures[:5]:
                console.print(f"[red]job failed: {failure!r}")
            if failures:
                return 1
        elapsed = time.perf_counter() - started
        show_one(results[0])
        await show_kpis(office)
        if jobs > 1:
            per_job = [sum(r.phase_seconds.values()) for r in results]
            console.print(
                f"{jobs} jobs in {elapsed:.1f} s ({jobs / elapsed:.2f} jobs/s); "
                f"per job median {statistics.median(per_job):.2f} s, max {max(per_job):.2f} s"
            )
        console.print(
            f"[bold]Trace[/] of {results[0].job_id}: {results[0].trace_id}  "
            "(look it up in Jaeger, http://localhost:16686/trace/<id>, when OTEL_EXPORTER_OTLP_ENDPOINT points there)"
        )
        console.print("Stop the services with `make stop`; API documents at http://127.0.0.1:<port>/schema")
        show_console(host)
        await show_portal(office, host, results[0])
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.jobs, args.host)))
