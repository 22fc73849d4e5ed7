"""Ids intake issues. Random, so replicas never collide; prefixed, so a reader knows what they name."""

from uuid import uuid4


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:12].upper()}"
