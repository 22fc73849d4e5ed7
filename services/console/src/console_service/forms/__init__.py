"""Forms that act once: each rendered form carries a key of its own (`form_key`), and a submission is
carried out at most once per key.

A double click, a resubmitted form or the back button followed by "send again" finds the key already
used and lands on the first submission's result instead of acting twice. Where the API takes an
`Idempotency-Key`, the same key goes with the call, so even a console that crashed mid-way cannot act
twice. A refused or failed submission frees its key: the person corrects what they typed and sends the
same form again.

    outcome = await once(runtime, session, form.get("form_key"), act)   # act() -> (Answer, where to go)
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from console_service.calls import Answer
from console_service.forms import store
from console_service.settings import ConsoleRuntime

FORM_KEY = "form_key"
WAIT_FOR_FIRST = 10.0


def new_form_key() -> str:
    return secrets.token_urlsafe(18)


def valid_key(value: object) -> str | None:
    return value if isinstance(value, str) and 16 <= len(value) <= 64 else None


@dataclass(frozen=True)
class Outcome:
    """`answer` is None when the key had been used: `redirect` is then the first submission's result."""

    answer: Answer | None
    redirect: str | None

    @property
    def repeated(self) -> bool:
        return self.answer is None


Act = Callable[[], Awaitable[tuple[Answer, str | None]]]


async def once(runtime: ConsoleRuntime, session: dict[str, Any], form_key: object, act: Act) -> Outcome:
    """Run `act` unless this form's key was already used by this person; `act` returns the service's
    answer and, on success, the page to go to."""
    key = valid_key(form_key)
    if key is None:  # a form from before keys, or typed by hand: act, with no memory
        answer, where = await act()
        return Outcome(answer, where if answer.ok else None)
    if not await store.claim(runtime, key, session["subject"]):
        return Outcome(None, await _first_result(runtime, key, session["subject"]))
    try:
        answer, where = await act()
    except BaseException:
        await store.release(runtime, key)
        raise
    if answer.ok:
        await store.settle(runtime, key, where or "/")
    else:
        await store.release(runtime, key)
    return Outcome(answer, where if answer.ok else None)


async def _first_result(runtime: ConsoleRuntime, key: str, subject: str) -> str:
    """Where the first submission led, once it has finished (a double click arrives while it runs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_FIRST
    while True:
        claim = await store.claim_of(runtime, key)
        if claim is None:  # the first was refused and released its key meanwhile
            return "/"
        if claim.get("subject") != subject:
            return "/"
        if claim.get("result"):
            return str(claim["result"])
        if loop.time() > deadline:
            return "/"
        await asyncio.sleep(0.1)
