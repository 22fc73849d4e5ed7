"""Call-back records in MongoDB."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from compressor_kit.outbox import UnitOfWork
from intake_service.callbacks.domain import Callback, CallbackOutcome
from intake_service.documents import Document, from_document, to_document
from intake_service.settings import IntakeRuntime

CALLBACKS = "callbacks"
INDEXES = {
    CALLBACKS: [
        IndexModel(
            [("idempotency_key", ASCENDING)],
            name="one_callback_per_idempotency_key",
            unique=True,
            partialFilterExpression={"idempotency_key": {"$exists": True}},
        ),
        IndexModel([("customer_id", ASCENDING), ("recorded_at", ASCENDING)], name="by_customer"),
    ]
}


def _callback(doc: Document) -> Callback:
    return from_document(Callback, doc, "callback_id")


async def insert_callback(uow: UnitOfWork, callback: Callback) -> None:
    """Raises DuplicateKeyError when a call-back with its Idempotency-Key exists."""
    doc = to_document(callback, "callback_id")
    if doc["idempotency_key"] is None:  # its unique index holds only the call-backs that have one
        del doc["idempotency_key"]
    await uow.db[CALLBACKS].insert_one(doc, session=uow.session)


async def callback_with_idempotency_key(runtime: IntakeRuntime, key: str) -> Callback | None:
    doc = await runtime.db[CALLBACKS].find_one({"idempotency_key": key})
    return _callback(doc) if doc else None


async def callbacks_page(
    runtime: IntakeRuntime, *, customer_id: str | None, outcome: CallbackOutcome | None, limit: int, offset: int
) -> tuple[list[Callback], int]:
    """Call-back records, newest first."""
    query = {k: str(v) for k, v in (("customer_id", customer_id), ("outcome", outcome)) if v is not None}
    found = (
        await runtime.db[CALLBACKS]
        .find(query)
        .sort([("recorded_at", -1), ("_id", 1)])
        .skip(offset)
        .limit(limit)
        .to_list()
    )
    return [_callback(doc) for doc in found], await runtime.db[CALLBACKS].count_documents(query)
