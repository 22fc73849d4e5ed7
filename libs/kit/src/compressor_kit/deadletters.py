"""Dead letters: list them per service, and replay chosen ones after a fix.

Every service dead-letters into its own quorum queue `<service>.dead-letters`, each message
carrying why it failed (`x-error`, `x-error-type`), where (`x-failed-queue`) and after how many
attempts. Listing looks without taking: messages are read unacknowledged and returned. Replaying
re-publishes a message straight to the queue that failed it (through the default exchange, so no
other consumer receives it twice), then removes it from the dead-letter queue.

    python -m compressor_kit.deadletters list [SERVICE ...]
    python -m compressor_kit.deadletters replay SERVICE (--id EVENT_ID ... | --all)
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from compressor_contracts import SERVICES, service_topology
from compressor_kit.settings import Settings

REPLAY_DROPS_HEADERS = ("x-error", "x-error-type", "x-attempts", "x-dead-lettered-at", "x-delivery-count", "x-death")


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


async def _take_all(channel: aio_pika.abc.AbstractChannel, queue_name: str) -> list[AbstractIncomingMessage]:
    queue = await channel.declare_queue(queue_name, passive=True)
    messages = []
    while (message := await queue.get(no_ack=False, fail=False)) is not None:
        messages.append(message)
    return messages


async def list_dead_letters(amqp_url: str, services: Iterable[str] = SERVICES) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for service in services:
            channel = await connection.channel()
            try:
                messages = await _take_all(channel, service_topology(service).dead_letter_queue)
            except aio_pika.exceptions.ChannelClosed:
                continue  # the service never started here: no dead-letter queue yet
            letters.extend(DeadLetter.of(service, m) for m in messages)
            for message in messages:
                await message.nack(requeue=True)
            await channel.close()
    return letters


async def replay(amqp_url: str, service: str, event_ids: Iterable[str] | None) -> list[DeadLetter]:
    """Re-publish the chosen dead letters (all when `event_ids` is None) to the queues that failed them."""
    wanted = None if event_ids is None else set(event_ids)
    replayed: list[DeadLetter] = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        messages = await _take_all(channel, service_topology(service).dead_letter_queue)
        for message in messages:
            letter = DeadLetter.of(service, message)
            if (wanted is not None and letter.event_id not in wanted) or not letter.failed_queue:
                await message.nack(requeue=True)
                continue
            headers: dict[str, Any] = {
                k: v for k, v in (message.headers or {}).items() if k not in REPLAY_DROPS_HEADERS
            }
            headers["x-replayed-from"] = service_topology(service).dead_letter_queue
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    headers=headers,
                    content_type=message.content_type,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=letter.failed_queue,
            )
            await message.ack()  # only once the broker confirmed the re-publish
            replayed.append(letter)
    return replayed


def _print(letters: list[DeadLetter]) -> None:
    if not letters:
        print("no dead letters")
        return
    for service in sorted({letter.service for letter in letters}):
        mine = [letter for letter in letters if letter.service == service]
        print(f"{service}: {len(mine)} dead letter(s)")
        for letter in mine:
            print(
                f"  {letter.event_id}  {letter.event_type or '?'}  from {letter.failed_queue}  "
                f"after {letter.attempts} attempt(s) at {letter.dead_lettered_at}\n"
                f"      {letter.error_type}: {letter.error[:300]}"
            )


def main(argv: list[str] | None = None) -> None:
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
    url = Settings().rabbitmq_url.get_secret_value()
    if args.command == "list":
        _print(asyncio.run(list_dead_letters(url, args.services or SERVICES)))
    else:
        replayed = asyncio.run(replay(url, args.service, None if args.all else args.ids))
        print(f"replayed {len(replayed)} dead letter(s) of {args.service}")
        _print(replayed)


if __name__ == "__main__":
    main()
