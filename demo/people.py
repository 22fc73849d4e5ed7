"""The people of the process, as HTTP clients of the services' public APIs (never their databases).

Each person signs in at the identity provider as themselves, with the authorization code flow and
PKCE driven without a browser (the local provider's login form), and acts with the access token the
provider issued, refreshed before it expires. The organisation's seed staff and engineers have
accounts at the provider; the customers and field engineers the demo creates get theirs from the
demo driver, which signs in as a machine client (client credentials) to register them, as an
organisation's onboarding would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from compressor_kit.auth import CUSTOMER
from compressor_kit.oidc import TokenRequestRefused, Tokens
from compressor_kit.settings import Settings
from compressor_kit.testing.provider import LocalProvider

T = TypeVar("T")


class ApiError(RuntimeError):
    pass


RENEW_BEFORE_SECONDS = 60


@dataclass
class Person:
    """One person acting through the services' HTTP APIs with their own provider-issued token."""

    name: str
    subject: str
    username: str
    client: httpx.AsyncClient
    urls: dict[str, str]
    provider: LocalProvider
    _tokens: Tokens | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def access_token(self) -> str:
        async with self._lock:  # jobs run concurrently: one sign-in or refresh per person at a time
            tokens = self._tokens
            if tokens is None or tokens.expires_at - time.time() < RENEW_BEFORE_SECONDS:
                self._tokens = await self._renewed(tokens)
            return self._tokens.access_token

    async def _renewed(self, tokens: Tokens | None) -> Tokens:
        if tokens and tokens.refresh_token:
            try:
                return await self.provider.client("console").refresh(tokens.refresh_token)
            except TokenRequestRefused:
                pass  # the session ended at the provider: sign in again
        return await self.provider.sign_in(self.username)

    async def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.access_token()}", **(extra or {})}

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        headers=None,
        ok=(200, 201, 202),
    ) -> httpx.Response:
        response = await self.client.request(
            method, self.urls[service] + path, json=json, params=params, headers=await self.headers(headers)
        )
        if response.status_code not in ok:
            raise ApiError(f"{self.name}: {method} {service}{path} -> {response.status_code} {response.text[:800]}")
        return response

    async def get(self, service: str, path: str, **kwargs: Any) -> Any:
        return (await self.call("GET", service, path, **kwargs)).json()

    async def post(self, service: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        response = await self.call("POST", service, path, json=json, **kwargs)
        return response.json() if response.content else None


async def until(check: Callable[[], Awaitable[T | None]], *, what: str, timeout: float = 60.0, every: float = 0.2) -> T:
    """Ask again until the answer is there: people look at their work lists, they don't read databases."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"waited {timeout:.0f}s for {what}")
        await asyncio.sleep(every)


class People:
    """Everyone the demo acts as, each signed in once and then kept signed in."""

    def __init__(self, urls: dict[str, str], client: httpx.AsyncClient, settings: Settings | None = None) -> None:
        self.urls, self.client = urls, client
        self.provider = LocalProvider(settings or Settings(), client)
        self._people: dict[str, Person] = {}
        self._registering = asyncio.Lock()

    def seed_person(self, username: str, title: str) -> Person:
        seed = self.provider.person(username)
        return self._person(seed["subject"], f"{seed['name']} ({title})", username)

    def _person(self, subject: str, name: str, username: str) -> Person:
        if subject not in self._people:
            self._people[subject] = Person(name, subject, username, self.client, self.urls, self.provider)
        return self._people[subject]

    async def engineer(self, engineer_id: str) -> Person:
        return await self._registered(engineer_id, f"engineer {engineer_id}", "engineer")

    async def customer(self, customer_id: str) -> Person:
        return await self._registered(customer_id, f"customer {customer_id}", CUSTOMER)

    async def _registered(self, subject: str, name: str, role: str) -> Person:
        """A seed account if the provider has one for `subject`, else one the demo driver registers."""
        async with self._registering:
            if subject not in self._people:
                seed = next((p for p in self.provider.seed["people"] if p["subject"] == subject), None)
                username = (
                    seed["username"]
                    if seed
                    else await self.provider.register(subject, [role], name=name, username=subject.lower())
                )
                self._person(subject, name, username)
        return self._people[subject]
