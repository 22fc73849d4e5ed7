"""Stuck outbox events from the command line: list them per service, release chosen ones after a fix.

An HTTP client of every service's admin routes (`compressor_kit.outbox_api`: GET /outbox/stuck,
POST /outbox/stuck/retry) that signs in as its own client with client credentials (OIDC_CLIENT_ID; `make
outbox-stuck` and `make outbox-retry` use `dlq-replay`, the operators' admin client of `make dlq`):

    OIDC_CLIENT_ID=dlq-replay python -m compressor_kit.outbox_stuck list [SERVICE ...]
    OIDC_CLIENT_ID=dlq-replay python -m compressor_kit.outbox_stuck retry SERVICE (--id EVENT_ID ... | --all)

Each service is called at `<SERVICE>_URL` (e.g. DISPATCH_URL), by default where `make run` serves it.
Without a release, the relay retries a parked event by itself after OUTBOX_STUCK_RETRY_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import httpx

from compressor_contracts import SERVICES
from compressor_kit.deadletters import CommandFailed, ServicesClient, ServiceUnreachable, refuse_development_secret
from compressor_kit.settings import Settings

LIST_LIMIT = 200


def _print(service: str, events: list[dict[str, Any]]) -> None:
    print(f"{service}: {len(events)} stuck event(s)")
    for event in events:
        print(
            f"  {event['event_id']}  {event['event_type']}  job {event['job_id']}  "
            f"after {event['attempts']} attempt(s), stuck since {event['stuck_since']}, "
            f"retried by itself at {event['retried_by_itself_at']}\n"
            f"      {event['last_error'][:300]}"
        )


async def _list(client: ServicesClient, services: list[str]) -> int:
    failures = 0
    for service in services:
        try:
            answer = await client.call(service, "GET", f"/outbox/stuck?limit={LIST_LIMIT}")
        except ServiceUnreachable as error:
            print(error, file=sys.stderr)
            failures += 1
            continue
        if answer["stuck"]:
            _print(service, answer["stuck"])
        else:
            print(f"{service}: no stuck events")
        if answer.get("more"):
            print(f"  ... and more (the first {LIST_LIMIT} are listed)")
    return 1 if failures else 0


async def _retry(client: ServicesClient, service: str, event_ids: list[str] | None) -> int:
    body: dict[str, Any] = {"all": True} if event_ids is None else {"event_ids": event_ids}
    answer = await client.call(service, "POST", "/outbox/stuck/retry", body)
    print(f"retried {answer['retried']} stuck event(s) of {service}")
    for event_id in answer["not_found"]:
        print(f"not found: {service} has no stuck event {event_id}", file=sys.stderr)
    return 1 if answer["not_found"] else 0


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    async with httpx.AsyncClient() as http:
        client = ServicesClient(http, settings)
        if args.command == "list":
            return await _list(client, args.services or list(SERVICES))
        return await _retry(client, args.service, None if args.all else args.ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compressor_kit.outbox_stuck", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list stuck outbox events per service")
    listing.add_argument("services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(SERVICES)} (default: all)")
    retrying = commands.add_parser("retry", help="put stuck events back to pending with a fresh round of attempts")
    retrying.add_argument("service", choices=SERVICES)
    chosen = retrying.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--id", action="append", dest="ids", help="event id to retry (repeatable)")
    chosen.add_argument("--all", action="store_true", help="retry every stuck event of the service")
    args = parser.parse_args(argv)
    unknown = set(getattr(args, "services", ())) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    try:
        settings = Settings()
        refuse_development_secret(settings)
        return asyncio.run(_run(args, settings))
    except CommandFailed as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
