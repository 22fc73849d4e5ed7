"""MongoDB: one AsyncMongoClient[dict[str, Any]] per process, one database per service, indexes at start-up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure

from compressor_kit.settings import Settings

IndexSpec = Mapping[str, Sequence[IndexModel]]
NAMESPACE_EXISTS = 48


class DatabaseUnavailable(ConnectionFailure):
    """MongoDB gave no primary within one unit of work's time limit (down, unreachable, or electing)."""


def unavailable(error: BaseException) -> bool:
    """Whether `error` says that MongoDB could not be reached, rather than that it refused the work.

    ConnectionFailure covers server selection timing out, a lost or timed-out connection
    (AutoReconnect, NetworkTimeout), a full connection pool (WaitQueueTimeoutError) and a primary
    stepping down or shutting down (NotPrimaryError). Not a duplicate key, a write conflict or a
    validation error: those are the work's own.
    """
    return isinstance(error, ConnectionFailure)


def create_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    timeout = settings.mongodb_timeout_ms
    return AsyncMongoClient(
        settings.mongodb_url.get_secret_value(),
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        tz_aware=True,
        # Majority writes survive a primary failover; transactions need the replica set anyway.
        w="majority",
        # A write or read cut off by a primary stepping down is retried once on the new primary (the
        # driver's defaults, stated: a deployment's URL must not turn them off). A transaction is retried
        # whole by Outbox.transact within MONGODB_TRANSACTION_TIMEOUT_SECONDS, which outlasts an election.
        retryWrites=True,
        retryReads=True,
    )


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]], indexes: IndexSpec) -> None:
    """Every collection named, with its indexes (none: the collection alone). Created here, at start-up:
    the first transaction that writes a collection would otherwise create it, and every other writer
    conflicts with that uncommitted creation until it commits (on a busy machine, past their time limit)."""
    existing = set(await db.list_collection_names())
    for collection, models in indexes.items():
        if models:
            await db[collection].create_indexes(list(models))
        elif collection not in existing:
            try:
                await db.create_collection(collection, check_exists=False)  # listed just above
            except OperationFailure as error:
                if error.code != NAMESPACE_EXISTS:  # another replica starting alongside created it meanwhile
                    raise


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> None:
    await client.admin.command("ping")
