"""The OpenID Connect provider as the services see it: its discovery document, its signing keys, and
the token endpoint for the callers that sign in (machine clients, the console).

Keys are read from the issuer's discovery document and JWKS and cached. A token signed with an
unknown `kid` may trigger one refresh, at most once per OIDC_KEYS_REFRESH_INTERVAL_SECONDS, so forged
kids cannot make a service flood the provider. A provider that is down keeps the cached keys working.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from compressor_kit.settings import Settings

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 5.0


class ProviderUnavailable(RuntimeError):
    """The provider could not be asked (network, status, or a document that is not what it should be)."""


async def discover(http: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    """The provider's discovery document, checked to be the configured issuer's."""
    try:
        response = await http.get(settings.discovery_url(), timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderUnavailable(f"discovery at {settings.discovery_url()}: {error!r}") from error
    # OpenID Connect Discovery 1.0, section 4.3: the issuer in the document must be the one configured.
    if document.get("issuer") != settings.oidc_issuer:
        raise ProviderUnavailable(f"discovery names issuer {document.get('issuer')!r}, not {settings.oidc_issuer!r}")
    return document


@dataclass(frozen=True)
class SigningKey:
    """One public key of the provider: `algorithm` is the JWK's own `alg` when it names one (Entra's
    keys do not), `key_type` its `kty`."""

    key: Any
    key_type: str
    algorithm: str | None

    def signs_with(self, algorithm: str) -> bool:
        if self.algorithm:
            return self.algorithm == algorithm
        return KEY_TYPE_OF.get(algorithm[:2]) == self.key_type


KEY_TYPE_OF = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class ProviderKeys:
    """The provider's public signing keys by kid, loaded lazily and refreshed sparingly."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.refresh_interval = settings.oidc_keys_refresh_interval_seconds
        self._keys: dict[str, SigningKey] = {}
        self._last_attempt: float | None = None
        self._lock = asyncio.Lock()
        self.last_error = "keys not loaded yet"
        self.refreshes = 0

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    async def key_for(self, kid: str) -> SigningKey | None:
        """The key with this kid, refreshing the set once if it is unknown and the interval allows."""
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and self._may_refresh():
                await self.refresh()
        return self._keys.get(kid)

    def _may_refresh(self) -> bool:
        return self._last_attempt is None or time.monotonic() - self._last_attempt >= self.refresh_interval

    async def refresh(self) -> bool:
        """Read the JWKS again; on failure keep the keys already held. True when it succeeded."""
        self._last_attempt = time.monotonic()
        self.refreshes += 1
        try:
            document = await discover(self.http, self.settings)
            response = await self.http.get(document["jwks_uri"], timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            keys = _signing_keys(response.json())
        except (ProviderUnavailable, httpx.HTTPError, ValueError, KeyError) as error:
            self.last_error = f"{type(error).__name__}: {error}"[:300]
            log.warning("identity provider keys not refreshed: %s", self.last_error)
            return False
        if not keys:
            self.last_error = "the provider's JWKS holds no usable signing key"
            return False
        self._keys = keys
        self.last_error = ""
        return True

    async def keep_loaded(self, *, first_retry: float = 0.5, longest_retry: float = 30.0) -> None:
        """Background start-up: load the keys, retrying with backoff while the provider is unreachable,
        so that a service starts (and says it is not ready) instead of crashing."""
        delay = first_retry
        while not await self.refresh():
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest_retry)


def _signing_keys(jwks: dict[str, Any]) -> dict[str, SigningKey]:
    keys: dict[str, SigningKey] = {}
    for entry in jwks.get("keys", []):
        if entry.get("use", "sig") != "sig" or "kid" not in entry:
            continue
        try:
            keys[entry["kid"]] = SigningKey(jwt.PyJWK(entry).key, entry.get("kty", ""), entry.get("alg"))
        except jwt.PyJWTError as error:  # a key type or curve this library cannot use: skip it
            log.info("skipping JWKS key %s: %s", entry.get("kid"), error)
    return keys


# --- Callers that sign in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: float
    refresh_token: str | None = None
    id_token: str | None = None


@dataclass(frozen=True)
class Pkce:
    """A PKCE pair (RFC 7636, S256): the verifier stays with the client, the challenge goes out."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


class OidcClient:
    """One registered client of the provider: the token endpoint calls of OAuth 2.0 and OIDC."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, client_id: str, client_secret: str) -> None:
        self.http, self.settings = http, settings
        self.client_id, self.client_secret = client_id, client_secret
        self._metadata: dict[str, Any] | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = await discover(self.http, self.settings)
        return self._metadata

    async def authorization_url(self, redirect_uri: str, state: str, nonce: str, pkce: Pkce, scope: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        return f"{(await self.metadata())['authorization_endpoint']}?{urlencode(query)}"

    async def exchange_code(self, code: str, redirect_uri: str, pkce: Pkce) -> Tokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._token({**form, "code_verifier": pkce.verifier})

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def client_credentials(self) -> Tokens:
        return await self._token({"grant_type": "client_credentials"})

    async def end_session_url(self, id_token: str, post_logout_redirect_uri: str, state: str = "") -> str:
        query = {"id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri}
        if state:
            query["state"] = state
        return f"{(await self.metadata())['end_session_endpoint']}?{urlencode(query)}"

    async def _token(self, form: dict[str, str]) -> Tokens:
        endpoint = (await self.metadata())["token_endpoint"]
        response = await self.http.post(
            endpoint, data=form, auth=(self.client_id, self.client_secret), timeout=HTTP_TIMEOUT
        )
        if response.status_code != 200:
            raise TokenRequestRefused(response.status_code, response.text[:300])
        body = response.json()
        return Tokens(
            access_token=body["access_token"],
            expires_at=time.time() + float(body.get("expires_in", 300)),
            refresh_token=body.get("refresh_token"),
            id_token=body.get("id_token"),
        )


class TokenRequestRefused(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the provider refused the token request: {status} {body}")
        self.status = status


class MachineClient:
    """A machine caller's access token by client credentials (OIDC_CLIENT_ID / OIDC_CLIENT_SECRET),
    asked for again shortly before it expires."""

    RENEW_BEFORE_SECONDS = 30

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        if not settings.oidc_client_id:
            raise ValueError("OIDC_CLIENT_ID is not set: this tool signs in as its own client")
        self.client = OidcClient(
            http, settings, settings.oidc_client_id, settings.oidc_client_secret.get_secret_value()
        )
        self._tokens: Tokens | None = None

    async def access_token(self) -> str:
        if self._tokens is None or self._tokens.expires_at - time.time() < self.RENEW_BEFORE_SECONDS:
            self._tokens = await self.client.client_credentials()
        return self._tokens.access_token

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.access_token()}"}
