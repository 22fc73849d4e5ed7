"""Where sign-ins in progress (`sign_ins`) and sessions (`sessions`) live; both expire by TTL index."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument

from console_service.settings import ConsoleRuntime

SESSIONS = "sessions"
SIGN_INS = "sign_ins"

INDEXES = {
    SESSIONS: [IndexModel([("expires_at", ASCENDING)], name="expire_sessions", expireAfterSeconds=0)],
    SIGN_INS: [IndexModel([("expires_at", ASCENDING)], name="expire_sign_ins", expireAfterSeconds=0)],
}


async def save_sign_in(runtime: ConsoleRuntime, sign_in: dict[str, Any]) -> None:
    await runtime.db[SIGN_INS].insert_one(sign_in)


async def take_sign_in(runtime: ConsoleRuntime, state: str) -> dict[str, Any] | None:
    """The sign-in started with `state`, removed so that a code can be redeemed once."""
    return await runtime.db[SIGN_INS].find_one_and_delete({"_id": state})


async def save_session(runtime: ConsoleRuntime, session: dict[str, Any]) -> None:
    await runtime.db[SESSIONS].insert_one(session)


async def session_of(runtime: ConsoleRuntime, key: str) -> dict[str, Any] | None:
    return await runtime.db[SESSIONS].find_one({"_id": key})


async def renew_tokens(runtime: ConsoleRuntime, key: str, tokens: dict[str, Any]) -> dict[str, Any] | None:
    return await runtime.db[SESSIONS].find_one_and_update(
        {"_id": key}, {"$set": tokens}, return_document=ReturnDocument.AFTER
    )


async def end_session(runtime: ConsoleRuntime, key: str) -> None:
    await runtime.db[SESSIONS].delete_one({"_id": key})
