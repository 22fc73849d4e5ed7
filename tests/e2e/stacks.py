"""Running a deployment of the six services (demo.stack.Stack) inside a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from demo.stack import Stack


@contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """The stack started and, however the test ends, stopped: also when it fails to start (`with stack:`
    would leave the processes already spawned running, for the rest of the suite and after it)."""
    try:
        yield stack.start()
    finally:
        stack.stop()
