"""What the console's tests share: the console (in process, or served on a port), people signing in
at the real provider, and job events as their producers publish them.

The provider only sends a browser back to a registered redirect URI, and the seed registers the
console's at http://127.0.0.1:8000/auth/callback. A test's console is configured with that public URL
(so it asks for exactly that redirect URI) but runs in the test, or on a port of its own: the test's
browser, which is httpx, takes the URL the provider sends it back to and opens its path and query on
the console under test, as a reverse proxy in front of the console would. No registration at the
provider is needed, and a console that `make run` serves on :8000 is never reached.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from console_service.app import SERVICE
from console_service.settings import ConsoleSettings
from litestar import Litestar

from compressor_contracts import CloudEvent, new_event
from compressor_contracts.examples import example
from compressor_kit.settings import Settings
from compressor_kit.testing.harness import RunningService, running_service
from compressor_kit.testing.ports import free_port
from compressor_kit.testing.provider import LocalProvider
from compressor_kit.testing.signin import Browser

PUBLIC_URL = "http://127.0.0.1:8000"
PASSWORD = "local-development-password"


def console_settings(settings: Settings, **changes: Any) -> ConsoleSettings:
    return ConsoleSettings(**{**settings.model_dump(), "console_public_url": PUBLIC_URL, **changes})


def new_job_id() -> str:
    return f"JOB-2026-{uuid.uuid4().int % 10**6:06d}"


def job_event(routing_key: str, job_id: str, **changes: Any) -> CloudEvent[Any]:
    """The contract's example of `routing_key`, about `job_id`, as its producer publishes it."""
    data = example(routing_key).model_copy(update={"job_id": job_id, **changes})
    return new_event(data, source_service=data.producer, subject=job_id)


def local(url: str) -> str:
    """The path and query of `url`: where it leads on the console under test."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def sign_in(
    console: httpx.AsyncClient, provider: LocalProvider, username: str, next_path: str = "/"
) -> httpx.Response:
    """`username` opens the console at /auth/login?next=…, logs in at the provider's own form, and is
    sent back to the console's callback: the callback's answer (a redirect to `next_path`)."""
    start = await console.get("/auth/login", params={"next": next_path})
    assert start.status_code == 303, start.text
    browser = Browser(provider.client("console"), f"{PUBLIC_URL}/auth/callback")
    callback = await browser.authorize(start.headers["location"], username, PASSWORD)
    assert callback.startswith(f"{PUBLIC_URL}/auth/callback?"), callback
    assert "code" in parse_qs(urlsplit(callback).query)
    return await console.get(local(callback))


@asynccontextmanager
async def running_console(settings: ConsoleSettings) -> AsyncIterator[RunningService]:
    """The console in the test (harness), its client a browser that does not follow redirects by itself
    (they lead to the provider, which the in-process client cannot reach)."""
    async with running_service(SERVICE, settings, bindings=()) as console:
        console.client.follow_redirects = False
        yield console


@asynccontextmanager
async def service_process(package: str, settings: Settings, database: str) -> AsyncIterator[str]:
    """A service as its own process (`python -m <package>`) on the test's vhost and `database`: its base
    URL once it is ready."""
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "RABBITMQ_URL": settings.rabbitmq_url.get_secret_value(),
        "HTTP_PORT": str(port),
        "MONGODB_DATABASE": database,
        "S3_BUCKET_PREFIX": settings.s3_bucket_prefix,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", package, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(150):
                try:
                    if (await http.get(f"{url}/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, f"{package} exited"
                await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


@asynccontextmanager
async def served(app: Litestar) -> AsyncIterator[str]:
    """`app` served over HTTP on a free port (its lifespan run): its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(300):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
