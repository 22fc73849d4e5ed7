"""Dead letters: list them per service, and replay chosen ones after a fix.

Every service dead-letters into its own quorum queue `<service>.dead-letters`, each message
carrying why it failed (`x-error`, `x-error-type`), where (`x-failed-queue`) and after how many
attempts. Listing looks without taking: messages are read unacknowledged and returned. Replaying
re-publishes a message straight to the queue that failed it (through the default exchange, so no
other consumer receives it twice), then removes it from the dead-letter queue; only to the service's
own queues, and only once the broker confirmed it routed the message there.

The functions here are what every service's admin routes run with the service's own broker user
(`compressor_kit.deadletter_api`: GET /dead-letters, POST /dead-letters/replay). The command line is
an HTTP client of those routes that signs in as its own client (client credentials, OIDC_CLIENT_ID,
`make dlq` uses `dlq-replay`) and needs no broker credentials:

    OIDC_CLIENT_ID=dlq-replay python -m compressor_kit.deadletters list [SERVICE ...]
    OIDC_CLIENT_ID=dlq-replay python -m compressor_kit.deadletters replay SERVICE (--id EVENT_ID ... | --all)

Each service is called at `<SERVICE>_URL` (e.g. DISPATCH_URL), by default where `make run` serves it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
from aio_pika.abc import AbstractIncomingMessage

from compressor_contracts import SERVICES, service_topology
from compressor_kit.oidc import MachineClient, ProviderUnavailable, TokenRequestRefused
from compressor_kit.settings import DEV_CLIENT_SECRET, Settings

CONNECT_TIMEOUT = 10.0
# x-attempts-spent and x-put-back-to (delivery.py, an outage): a replay starts with a fresh attempt budget.
REPLAY_DROPS_HEADERS = (
    "x-error",
    "x-error-type",
    "x-attempts",
    "x-dead-lettered-at",
    "x-delivery-count",
    "x-death",
    "x-attempts-spent",
    "x-put-back-to",
)


@dataclass(frozen=True)
class DeadLetter:
    service: str
    event_id: str | None
    event_type: str | None
    failed_queue: str
    error_type: str
    error: str
    attempts: int
    dead_lettered_at: str

    @classmethod
    def of(cls, service: str, message: AbstractIncomingMessage) -> DeadLetter:
        headers = message.headers or {}
        event_id, event_type = message.message_id, None
        try:
            body = json.loads(message.body)
            event_id, event_type = body.get("id", event_id), body.get("type")
        except (ValueError, AttributeError):
            pass  # not JSON: exactly the kind of message that ends up here
        return cls(
            service=service,
            event_id=str(event_id) if event_id else None,
            event_type=event_type,
            failed_queue=str(headers.get("x-failed-queue", "")),
            error_type=str(headers.get("x-error-type", "")),
            error=str(headers.get("x-error", "")),
            attempts=int(str(headers.get("x-attempts") or 0)),
            dead_lettered_at=str(headers.get("x-dead-lettered-at", "")),
        )


async def _take_all(
    channel: aio_pika.abc.AbstractChannel, queue_name: str, limit: int | None = None
) -> list[AbstractIncomingMessage]:
    """Up to `limit` (all when None) messages of the queue, unacknowledged: the caller acks or returns each."""
    queue = await channel.declare_queue(queue_name, passive=True)
    messages: list[AbstractIncomingMessage] = []
    while limit is None or len(messages) < limit:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        messages.append(message)
    return messages


async def list_dead_letters(
    amqp_url: str, services: Iterable[str] = SERVICES, *, limit: int | None = None
) -> list[DeadLetter]:
    """The dead letters of each service (at most `limit` per service), left where they are."""
    letters: list[DeadLetter] = []
    connection = await aio_pika.connect(amqp_url, timeout=CONNECT_TIMEOUT)
    async with connection:
        for service in services:
            channel = await connection.channel()
            try:
                messages = await _take_all(channel, service_topology(service).dead_letter_queue, limit)
            except aio_pika.exceptions.ChannelClosed:
                continue  # the service never started here: no dead-letter queue yet
            letters.extend(DeadLetter.of(service, m) for m in messages)
            for message in messages:
                await message.nack(requeue=True)
            await channel.close()
    return letters


@dataclass(frozen=True)
class Skipped:
    """A dead letter that was asked for and left in the dead-letter queue, and why."""

    letter: DeadLetter
    reason: str


@dataclass(frozen=True)
class Replayed:
    replayed: list[DeadLetter]
    skipped: list[Skipped]
    not_found: list[str]
    """Event ids asked for that no dead letter carries."""


def _why_not(letter: DeadLetter, service: str, known_queues: Collection[str]) -> str | None:
    if not letter.failed_queue:
        return "no x-failed-queue header: the queue that failed it is unknown"
    if letter.failed_queue not in known_queues:
        return f"x-failed-queue {letter.failed_queue!r} is not a queue of {service}"
    if letter.error_type == "ForgedEvent":  # its publisher is not its producer: no fix makes it true
        return "a forged event (not from its type's producer) is never replayed"
    return None


async def replay(
    amqp_url: str,
    service: str,
    event_ids: Iterable[str] | None,
    *,
    known_queues: Collection[str] | None = None,
) -> Replayed:
    """Re-publish the chosen dead letters (all when `event_ids` is None) to the queues that failed them.

    Only to `known_queues` (default: the service's own queues in its topology): a dead letter naming
    another queue, or none, stays in the dead-letter queue and is reported as skipped."""
    wanted = None if event_ids is None else set(event_ids)
    known = {q.name for q in service_topology(service).queues} if known_queues is None else set(known_queues)
    replayed: list[DeadLetter] = []
    skipped: list[Skipped] = []
    found: set[str] = set()
    connection = await aio_pika.connect(amqp_url, timeout=CONNECT_TIMEOUT)
    async with connection:
        # A message no queue takes is returned, and raised here, instead of confirmed and dropped.
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        messages = await _take_all(channel, service_topology(service).dead_letter_queue)
        for message in messages:
            letter = DeadLetter.of(service, message)
            if wanted is not None and letter.event_id not in wanted:
                await message.nack(requeue=True)
                continue
            found.add(letter.event_id or "")
            reason = _why_not(letter, service, known)
            if reason is not None:
                await message.nack(requeue=True)
                skipped.append(Skipped(letter, reason))
                continue
            headers: dict[str, Any] = {
                k: v for k, v in (message.headers or {}).items() if k not in REPLAY_DROPS_HEADERS
            }
            headers["x-replayed-from"] = service_topology(service).dead_letter_queue
            try:
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        message.body,
                        headers=headers,
                        content_type=message.content_type,
                        message_id=message.message_id,
                        correlation_id=message.correlation_id,
                        user_id=connection.url.user,  # this service replays: its consumer accepts its own user
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=letter.failed_queue,
                    mandatory=True,
                )
            except aio_pika.exceptions.DeliveryError:
                await message.nack(requeue=True)
                skipped.append(Skipped(letter, f"no queue {letter.failed_queue!r} on the broker took it"))
                continue
            await message.ack()  # only once the broker confirmed the re-publish
            replayed.append(letter)
    not_found = sorted(wanted - found) if wanted is not None else []
    return Replayed(replayed, skipped, not_found)


def _print(letters: list[DeadLetter]) -> None:
    for service in sorted({letter.service for letter in letters}):
        mine = [letter for letter in letters if letter.service == service]
        print(f"{service}: {len(mine)} dead letter(s)")
        for letter in mine:
            print(
                f"  {letter.event_id}  {letter.event_type or '?'}  from {letter.failed_queue}  "
                f"after {letter.attempts} attempt(s) at {letter.dead_lettered_at}\n"
                f"      {letter.error_type}: {letter.error[:300]}"
            )


# --- The command line: an HTTP client of the services, signed in as its own client ---------------------

DEFAULT_PORTS = {
    "intake": 8001,
    "dispatch": 8002,
    "maintenance": 8003,
    "quality": 8004,
    "reporting": 8005,
    "feedback": 8006,
    "console": 8000,
}
"""Where `make run` (infra/services.sh) serves each service; `<SERVICE>_URL` overrides."""
HTTP_TIMEOUT = 60.0


def service_url(service: str, environ: Mapping[str, str] = os.environ) -> str:
    """The base URL of `service`: `<SERVICE>_URL` (e.g. DISPATCH_URL), else where `make run` serves it."""
    return environ.get(f"{service.upper()}_URL", f"http://127.0.0.1:{DEFAULT_PORTS[service]}").rstrip("/")


class CommandFailed(Exception):
    """Something the person at the terminal must be told, plainly, with a non-zero exit."""


class ServiceUnreachable(CommandFailed):
    """One service did not answer; the others may still be listed."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    detail = str(body.get("detail", ""))
    errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or [] if isinstance(e, dict))
    return f"{detail} ({errors})" if errors else detail


class ServicesClient:
    """The services' admin routes (dead letters, stuck outbox events), called with this tool's own access token
    (client credentials)."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.client_id = settings.oidc_client_id
        try:
            self.machine = MachineClient(http, settings)
        except ValueError as error:
            raise CommandFailed(
                f"{error} (make dlq, dlq-replay, outbox-stuck and outbox-retry sign in as OIDC_CLIENT_ID=dlq-replay)"
            ) from None

    async def _headers(self) -> dict[str, str]:
        try:
            return await self.machine.headers()
        except TokenRequestRefused as error:
            raise CommandFailed(f"client {self.client_id!r} could not sign in: {error}") from None
        except ProviderUnavailable as error:
            raise CommandFailed(
                f"the identity provider is unavailable ({error}); is it running (make infra-up)?"
            ) from None

    async def call(self, service: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = service_url(service) + path
        headers = await self._headers()
        try:
            response = await self.http.request(method, url, json=body, headers=headers, timeout=HTTP_TIMEOUT)
        except httpx.HTTPError as error:
            raise ServiceUnreachable(
                f"{service}: not reachable at {service_url(service)} ({type(error).__name__}); "
                f"is it running (make run), or is {service.upper()}_URL wrong?"
            ) from None
        if response.status_code in (401, 403):
            raise CommandFailed(
                f"{service} refused client {self.client_id!r} ({response.status_code}): {_detail(response)}; "
                "these routes need a client with the admin role (make dlq and make outbox-stuck sign in as dlq-replay)"
            )
        if response.is_error:
            raise CommandFailed(f"{service} answered {response.status_code} to {method} {path}: {_detail(response)}")
        answer: dict[str, Any] = response.json()
        return answer


def _letters(service: str, items: list[dict[str, Any]]) -> list[DeadLetter]:
    return [DeadLetter(service=service, **item) for item in items]


async def _list(client: ServicesClient, services: list[str]) -> int:
    failures = 0
    for service in services:
        try:
            answer = await client.call(service, "GET", f"/dead-letters?limit={LIST_LIMIT}")
        except ServiceUnreachable as error:
            print(error, file=sys.stderr)
            failures += 1
            continue
        letters = _letters(service, answer["dead_letters"])
        if letters:
            _print(letters)
        else:
            print(f"{service}: no dead letters")
        if answer.get("more"):
            print(f"  ... and more (the first {LIST_LIMIT} are listed)")
    return 1 if failures else 0


async def _replay(client: ServicesClient, service: str, event_ids: list[str] | None) -> int:
    body: dict[str, Any] = {"all": True} if event_ids is None else {"event_ids": event_ids}
    answer = await client.call(service, "POST", "/dead-letters/replay", body)
    replayed = _letters(service, answer["replayed"])
    print(f"replayed {len(replayed)} dead letter(s) of {service}")
    _print(replayed)
    for skipped in answer["skipped"]:
        letter = skipped["dead_letter"]
        print(f"skipped {letter['event_id']} (left in the dead-letter queue): {skipped['reason']}", file=sys.stderr)
    for event_id in answer["not_found"]:
        print(f"not found: no dead letter of {service} carries event id {event_id}", file=sys.stderr)
    return 1 if answer["skipped"] or answer["not_found"] else 0


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    async with httpx.AsyncClient() as http:
        client = ServicesClient(http, settings)
        if args.command == "list":
            return await _list(client, args.services or list(SERVICES))
        return await _replay(client, args.service, None if args.all else args.ids)


LIST_LIMIT = 200


def refuse_development_secret(settings: Settings) -> None:
    """The local provider's client secret is a default for local and test only."""
    if settings.environment == "production" and settings.oidc_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
        raise CommandFailed("OIDC_CLIENT_SECRET is the local provider's development secret: refused in production")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compressor_kit.deadletters", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list dead letters per service")
    listing.add_argument("services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(SERVICES)} (default: all)")
    replaying = commands.add_parser("replay", help="re-publish dead letters to the queue that failed them")
    replaying.add_argument("service", choices=SERVICES)
    chosen = replaying.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--id", action="append", dest="ids", help="event id to replay (repeatable)")
    chosen.add_argument("--all", action="store_true", help="replay every dead letter of the service")
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
