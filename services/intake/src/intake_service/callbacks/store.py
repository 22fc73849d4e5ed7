"""Call-back records in MongoDB."""

from pymongo import ASCENDING, IndexModel

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
