"""An app served over real HTTP by uvicorn inside a test (its lifespan run), and clients that connect from
chosen loopback addresses (Linux routes all of 127.0.0.0/8 to the loopback interface), for checks that
depend on the client's address: rate limits per address, trusted proxies.

    async with served(create_app(SERVICE, settings)) as url, from_address("127.0.0.2", url) as client:
        await client.get("/surveys/...")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from compressor_kit.testing.ports import free_port


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` served on 127.0.0.1 with uvicorn's defaults, as `python -m <service>` serves it (proxy
    headers trusted only from FORWARDED_ALLOW_IPS, by default 127.0.0.1): its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def from_address(address: str, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connections come from `address` (a loopback address such as 127.0.0.2)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=base_url, transport=transport, timeout=10) as client:
        yield client
