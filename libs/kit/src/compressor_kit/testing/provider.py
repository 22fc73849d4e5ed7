"""The local identity provider (infra/idp) as tests use it: its seed people and clients, tokens it
issues (client credentials, or a person's code flow), accounts registered for a test and removed
after it, and tokens signed with its own private key but claims of the test's choosing (an expired
token, one for another audience), which the provider itself would never issue.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from compressor_kit.oidc import OidcClient, Tokens
from compressor_kit.settings import DEV_CLIENT_SECRET, Settings
from compressor_kit.testing.signin import Browser

ROOT = Path(__file__).resolve().parents[5]
SEED = Path(os.environ.get("IDP_SEED", ROOT / "infra/idp/seed.json"))
KEYS = Path(os.environ.get("IDP_KEYS_FILE", ROOT / "var/idp/keys.json"))
CONSOLE = "console"


def seed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SEED.read_text())
    return loaded


class LocalProvider:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings, self.http, self.seed = settings, http, seed()
        self.issuer = settings.oidc_issuer
        self._registered: list[str] = []

    def client(self, client_id: str) -> OidcClient:
        return OidcClient(self.http, self.settings, client_id, self.seed["local_client_secret"])

    def person(self, username: str) -> dict[str, Any]:
        return next(p for p in self.seed["people"] if p["username"] == username)

    @property
    def console_redirect_uri(self) -> str:
        console = next(c for c in self.seed["clients"] if c["client_id"] == CONSOLE)
        redirect_uri: str = console["redirect_uris"][0]
        return redirect_uri

    def browser(self) -> Browser:
        return Browser(self.client(CONSOLE), self.console_redirect_uri)

    async def sign_in(self, username: str, password: str | None = None) -> Tokens:
        """`username` signs in to the console with the code flow: the tokens the console gets."""
        return await self.browser().sign_in(username, password or self.seed["local_password"])

    async def machine_token(self, client_id: str) -> str:
        return (await self.client(client_id).client_credentials()).access_token

    async def register(
        self, subject: str, roles: list[str], name: str = "Test person", username: str | None = None
    ) -> str:
        """A sign-in account for `subject` (an engineer or customer created since the provider started);
        its username. The fixture removes the accounts it registered when the test ends."""
        username = username or f"test-{uuid.uuid4().hex[:12]}"
        response = await self.http.post(
            f"{self.issuer}/accounts",
            json={
                "username": username,
                "password": self.seed["local_password"],
                "subject": subject,
                "name": name,
                "roles": roles,
            },
            headers={"Authorization": f"Bearer {await self.machine_token('demo-driver')}"},
        )
        response.raise_for_status()
        self._registered.append(username)
        return username

    async def remove_registered(self) -> None:
        token = await self.machine_token("demo-driver") if self._registered else ""
        for username in self._registered:
            await self.http.delete(f"{self.issuer}/accounts/{username}", headers={"Authorization": f"Bearer {token}"})
        self._registered.clear()

    def forge(
        self,
        algorithm: str = "RS256",
        *,
        header: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        """A token signed with the provider's own private key for `algorithm`, with the claims of a
        valid access token unless overridden: what a misbehaving or misconfigured provider could issue."""
        if not KEYS.exists():
            raise RuntimeError(
                f"{KEYS} is missing: the provider on {self.issuer} was not started from this checkout "
                "(stop it with `bash infra/idp.sh stop` in its own checkout, then `make infra-up` here)"
            )
        private = next(k for k in json.loads(KEYS.read_text())["keys"] if k.get("alg") == algorithm)
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.settings.oidc_audience,
            "sub": "STAFF-MGR-1",
            "roles": ["manager"],
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        for name in drop:
            payload.pop(name)
        key = jwt.PyJWK(private).key
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": private["kid"], **(header or {})})


@pytest.fixture
async def identity_provider(test_settings: Settings) -> AsyncIterator[LocalProvider]:
    """The running local provider (`make infra-up` starts it); accounts a test registers go afterwards."""
    async with httpx.AsyncClient(timeout=10) as http:
        provider = LocalProvider(test_settings, http)
        try:
            yield provider
        finally:
            await provider.remove_registered()


__all__ = ["DEV_CLIENT_SECRET", "LocalProvider", "identity_provider", "seed"]
