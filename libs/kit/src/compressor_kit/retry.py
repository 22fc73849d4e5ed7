"""Per-item retry for work done in rounds (the outbox relay's events, reporting's records).

An item that fails waits before its next attempt, twice as long after each failure up to a cap, so
that it neither spins nor holds newer items back; after `max_attempts` failures it is parked, still
visible and counted, for a person to look at. Where the worker supports it (the outbox relay), a parked
item gets a fresh round of attempts by itself `revive_after_seconds` later: many causes fix themselves
(a consumer deployed after its producer), and nothing should stay parked for want of an operator.
A failure of infrastructure (the broker, the database or the object store unreachable or too slow) is
not the item's fault and spends none of its attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiormq.exceptions import AMQPConnectionError, ChannelClosed, ChannelInvalidStateError
from faststream.exceptions import IncorrectState
from pymongo.errors import ConnectionFailure
from urllib3.exceptions import HTTPError as TransportError


@dataclass(frozen=True)
class ItemRetry:
    first_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    max_attempts: int = 10
    revive_after_seconds: float = 3600.0

    @property
    def revive_after(self) -> timedelta:
        """How long a parked item waits before its fresh round of attempts."""
        return timedelta(seconds=self.revive_after_seconds)

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the item's `attempts`-th failure."""
        doublings = min(max(attempts - 1, 0), 30)
        return timedelta(seconds=min(self.first_delay_seconds * 2**doublings, self.max_delay_seconds))

    def exhausted(self, attempts: int) -> bool:
        """After this many failures the item is parked."""
        return attempts >= self.max_attempts


class QueueUnavailable(Exception):
    """The broker nacked a publish: a queue it routes to could not take it (a quorum queue without a
    leader, say), which says nothing about the item."""


OUTAGES = (
    OSError,  # ConnectionError among them
    TimeoutError,
    ConnectionFailure,  # pymongo: server selection, connection, not primary
    AMQPConnectionError,
    ChannelInvalidStateError,  # the channel closed under a publish; the broker client reconnects
    IncorrectState,  # faststream: the broker is not connected (yet)
    TransportError,  # urllib3, under the object store's client
    QueueUnavailable,
)


def is_outage(error: BaseException) -> bool:
    """A failure of infrastructure rather than of the item: connection lost or refused, a server not
    selected, a channel gone, a time limit hit."""
    # A plain ChannelClosed is a channel closed under a publish without a refusal of it (by this client,
    # reopening it); the broker's refusals (access, precondition, ...) are its subclasses.
    return isinstance(error, OUTAGES) or type(error) is ChannelClosed
