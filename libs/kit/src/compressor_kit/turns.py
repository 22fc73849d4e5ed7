"""Work on one thing at a time within a running service, other things alongside."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Turns:
    """Whoever asks for a turn on the same key waits for the one before, in the order they asked.

    Consumers take turns per job (`job:<id>`): deliveries are handled concurrently (up to the
    prefetch), and two events of the same job handled at once write the same documents, so one
    transaction would abort on the write conflict and be retried. Events of different jobs still
    run side by side. One per running service (its locks belong to the service's event loop),
    held by the runtime and shared by its consumers and handlers.
    """

    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _waiting: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]
