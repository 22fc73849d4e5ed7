"""`make backup`: a backup now, from outside the reporting service, signed in as its own client.

    OIDC_CLIENT_ID=backups python -m reporting_service.backups.client [--url URL] [--timeout SECONDS]

Signs in with client credentials (OIDC_CLIENT_ID, `backups` in `make backup`; OIDC_CLIENT_SECRET, the
local provider's development secret by default, refused in production), POSTs /backups to reporting
(--url, by default where `make run` serves it; `make backup` passes REPORTING_URL), polls
GET /backups/{backup_id} until the backup completed or failed, and prints the result. Exits 0 when it
completed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from compressor_kit.oidc import MachineClient, ProviderUnavailable, TokenRequestRefused
from compressor_kit.settings import DEV_CLIENT_SECRET, Settings
from reporting_service.backups.domain import COMPLETED, FAILED

DEFAULT_URL = "http://127.0.0.1:8005"  # where `make run` (infra/services.sh) serves reporting
HTTP_TIMEOUT = 30.0


class BackupFailed(Exception):
    """The backup did not complete (or could not be started, or followed): why, for the terminal."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail", body))[:300] if isinstance(body, dict) else str(body)[:300]


async def _request(
    service: httpx.AsyncClient, machine: MachineClient, method: str, path: str, client_id: str
) -> dict[str, Any]:
    try:
        headers = await machine.headers()
    except TokenRequestRefused as error:
        raise BackupFailed(f"client {client_id!r} could not sign in: {error}") from None
    except ProviderUnavailable as error:
        raise BackupFailed(f"the identity provider is unavailable ({error}); is it running (make infra-up)?") from None
    try:
        response = await service.request(method, path, headers=headers, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as error:
        raise BackupFailed(
            f"reporting not reachable at {service.base_url} ({type(error).__name__}); "
            "is it running (make run), or is REPORTING_URL wrong?"
        ) from None
    if response.status_code in (401, 403):
        raise BackupFailed(
            f"reporting refused client {client_id!r} ({response.status_code}): {_detail(response)}; "
            "backups need a client with the manager or admin role (make backup signs in as backups)"
        )
    if response.is_error:
        raise BackupFailed(f"reporting answered {response.status_code} to {method} {path}: {_detail(response)}")
    answer: dict[str, Any] = response.json()
    return answer


async def back_up(
    service: httpx.AsyncClient,
    machine: MachineClient,
    client_id: str,
    *,
    poll_interval: float = 1.0,
    timeout: float = 3600.0,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start a backup on reporting (`service`: a client with reporting's base URL) and wait for its end;
    the completed backup, or BackupFailed."""
    started = await _request(service, machine, "POST", "/backups", client_id)
    backup_id = started["backup_id"]
    say(f"backup {backup_id} started")
    deadline = time.monotonic() + timeout
    while True:
        # The token is asked for again shortly before it expires: a long backup outlives one token.
        backup = await _request(service, machine, "GET", f"/backups/{backup_id}", client_id)
        if backup["status"] == COMPLETED:
            return backup
        if backup["status"] == FAILED:
            raise BackupFailed(
                f"backup {backup_id} failed at stage {backup.get('stage') or '?'}: {backup.get('error') or '?'}"
            )
        if time.monotonic() > deadline:
            raise BackupFailed(f"backup {backup_id} still {backup['status']} after {timeout:.0f} s; it goes on")
        await asyncio.sleep(poll_interval)


def summary(backup: dict[str, Any]) -> str:
    databases = backup.get("databases") or []
    documents = sum(int(d.get("documents", 0)) for d in databases)
    manifest = backup.get("manifest") or {}
    lines = [
        f"backup {backup['backup_id']} completed at {backup.get('completed_at')}: {len(databases)} database(s), "
        f"{documents} document(s), {backup.get('total_bytes') or 0} bytes",
        *(
            f"  {d['database']}: {d.get('collections')} collection(s), {d.get('documents')} document(s)"
            for d in databases
        ),
    ]
    if manifest:
        lines.append(
            f"  manifest s3://{manifest.get('bucket')}/{manifest.get('object_key')} sha256 {manifest.get('sha256')}"
        )
    return "\n".join(lines)


async def run(
    settings: Settings, service: httpx.AsyncClient, provider: httpx.AsyncClient, *, poll_interval: float, timeout: float
) -> int:
    """One backup through `service` (reporting), signed in through `provider`; the exit code."""
    try:
        if settings.environment == "production" and settings.oidc_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
            raise BackupFailed("OIDC_CLIENT_SECRET is the local provider's development secret: refused in production")
        try:
            machine = MachineClient(provider, settings)
        except ValueError as error:
            raise BackupFailed(f"{error} (make backup signs in as OIDC_CLIENT_ID=backups)") from None
        backup = await back_up(service, machine, settings.oidc_client_id, poll_interval=poll_interval, timeout=timeout)
    except BackupFailed as error:
        print(error, file=sys.stderr)
        return 1
    print(summary(backup))
    return 0


def main(argv: list[str], settings: Settings) -> int:
    """The command line, with the settings its composition root read (`__main__` below)."""
    parser = argparse.ArgumentParser(
        prog="python -m reporting_service.backups.client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"reporting's base URL (default {DEFAULT_URL})")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the backup's end")
    args = parser.parse_args(argv)

    async def once() -> int:
        async with httpx.AsyncClient() as provider, httpx.AsyncClient(base_url=args.url.rstrip("/")) as service:
            return await run(settings, service, provider, poll_interval=args.poll_interval, timeout=args.timeout)

    return asyncio.run(once())


if __name__ == "__main__":
    from reporting_service.app import SERVICE

    sys.exit(main(sys.argv[1:], SERVICE.settings_from(None)))
