"""A robust broker connection that knows every node of a RabbitMQ cluster (RABBITMQ_URL, then
RABBITMQ_URLS) and moves to another when the one it uses is lost.

aio-pika's RobustConnection reconnects to its one URL; FastStream's RabbitBroker hands it that URL.
This connection keeps the list: each connection attempt tries the nodes in turn, starting after the
node just lost, until one answers. Channels, consumers and publisher confirms are then restored by
aio-pika as after any reconnection; quorum queues are replicated, so every node serves them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from aio_pika import RobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

log = logging.getLogger(__name__)


class FailoverConnection(RobustConnection):
    """A RobustConnection over several nodes of one cluster (the first is the URL it is given)."""

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, *, nodes: Sequence[str], **kwargs: Any):
        super().__init__(url, loop, **kwargs)
        self.nodes = [URL(node) for node in nodes] or [self.url]
        self.node_index = 0

    def _move_to_next_node(self) -> None:
        self.node_index = (self.node_index + 1) % len(self.nodes)
        self.url = self.nodes[self.node_index]

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        # A connection that was up is lost: reconnect to the next node first. (A failed attempt comes
        # here too, never connected: the attempt below moves on itself.)
        lost_while_up = self.connected.is_set() and not (self._close_called or self.is_closed)
        if lost_while_up and len(self.nodes) > 1:
            lost = self.url.with_password(None)
            self._move_to_next_node()
            log.warning("broker node %s lost; reconnecting to %s", lost, self.url.with_password(None))
        await super()._on_connection_close(closing)

    # aio-pika's one connection attempt (private; called by its reconnection loop and by connect()).
    async def _RobustConnection__connect_transport(self) -> None:
        attempt = super()._RobustConnection__connect_transport  # type: ignore[misc]
        for tried in range(1, len(self.nodes) + 1):
            try:
                await attempt()
                return
            except CONNECTION_EXCEPTIONS as error:
                if tried == len(self.nodes):
                    raise
                failed = self.url.with_password(None)
                self._move_to_next_node()
                log.warning("broker node %s unreachable (%s); trying %s", failed, error, self.url.with_password(None))


def failover_connection(nodes: Sequence[str]) -> Any:
    """The `connection_class` for aio-pika's connect_robust: a FailoverConnection over `nodes`."""
    return partial(FailoverConnection, nodes=list(nodes))
