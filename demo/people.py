"""The people of the process, as HTTP clients of the services' public APIs (never their databases).

Each person holds a bearer token for their role, minted with the local stack's development keys
(`compressor-token` does the same from a shell).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from compressor_contracts import StaffRole
from compressor_kit.auth import CUSTOMER, AnyRole, TokenAuthority
from compressor_kit.settings import Settings

T = TypeVar("T")


class ApiError(RuntimeError):
    pass


@dataclass
class Person:
    """One person acting through the services' HTTP APIs with their own token."""

    name: str
    subject: str
    roles: list[AnyRole]
    client: httpx.AsyncClient
    urls: dict[str, str]
    authority: TokenAuthority

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        token = self.authority.mint(self.subject, [str(r) for r in self.roles], name=self.name)
        return {"Authorization": f"Bearer {token}", **(extra or {})}

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
            method, self.urls[service] + path, json=json, params=params, headers=self._headers(headers)
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


def cast(urls: dict[str, str], client: httpx.AsyncClient, settings: Settings | None = None) -> dict[str, Person]:
    authority = TokenAuthority(settings or Settings())

    def person(name: str, subject: str, *roles: AnyRole) -> Person:
        return Person(name, subject, list(roles), client, urls, authority)

    return {
        "reception": person("Aisyah (reception)", "STAFF-REC-1", StaffRole.RECEPTION),
        "dispatcher": person("Daniel (dispatch)", "STAFF-DSP-1", StaffRole.DISPATCHER),
        "inspector": person("Mei Ling (quality)", "STAFF-QA-1", StaffRole.INSPECTOR),
        "manager": person("Encik Rahman (service manager)", "STAFF-MGR-1", StaffRole.MANAGER),
    }


def engineer(
    urls: dict[str, str], client: httpx.AsyncClient, engineer_id: str, settings: Settings | None = None
) -> Person:
    return Person(
        f"engineer {engineer_id}",
        engineer_id,
        [StaffRole.ENGINEER],
        client,
        urls,
        TokenAuthority(settings or Settings()),
    )


def customer(
    urls: dict[str, str], client: httpx.AsyncClient, customer_id: str, settings: Settings | None = None
) -> Person:
    return Person(
        f"customer {customer_id}", customer_id, [CUSTOMER], client, urls, TokenAuthority(settings or Settings())
    )
