"""Every service trusts the identity provider's tokens and refuses every other kind, with 401
problem+json naming the kind of failure and nothing of the keys.

Accepted tokens are the real local provider's (infra/idp): a person's, from the code flow with PKCE.
The refused ones are what an attacker or a misconfigured provider could present: claims the provider
would never issue but signed with its own key (expired, wrong issuer, wrong audience), keys it does
not publish, `alg: none`, HS256 in production, and garbage.
"""

from __future__ import annotations

import importlib
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from compressor_contracts import SERVICES
from compressor_kit.auth import DevelopmentTokens
from compressor_kit.http import create_app
from compressor_kit.settings import Settings
from compressor_kit.testing.provider import LocalProvider
from tests.test_route_roles import protected_operations

ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def a_route_and_a_person(app, provider: LocalProvider) -> tuple[str, dict]:
    """A GET route of the service without path parameters, and a seed person allowed to call it."""
    for method, path, roles in protected_operations(app):
        if method == "GET" and "{" not in path:
            person = next((p for p in provider.seed["people"] if set(p["roles"]) & set(roles)), None)
            if person:
                return path, person
    raise AssertionError("no GET route without parameters")


def service_app(service: str, settings: Settings):
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    return create_app(definition, settings)


async def call(app, path: str, token: str) -> httpx.Response:
    # No lifespan: the guard answers before any handler, and the verifier loads keys on demand.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


def refused_tokens(provider: LocalProvider, person: dict, test_settings: Settings) -> dict[str, tuple[str, str]]:
    """Each case: (the token, the reason the service must give)."""
    now = int(time.time())
    mine = {"sub": person["subject"], "roles": person["roles"]}
    provider_kid = jwt.get_unverified_header(provider.forge("RS256"))["kid"]
    valid_claims = {
        "iss": provider.issuer,
        "aud": test_settings.oidc_audience,
        "iat": now,
        "exp": now + 300,
        **mine,
    }
    return {
        "expired": (provider.forge("RS256", iat=now - 1200, exp=now - 300, **mine), "expired"),
        "wrong issuer": (provider.forge("ES256", iss="https://login.attacker.example", **mine), "issuer"),
        "wrong audience": (provider.forge("RS256", aud="another-api", **mine), "audience"),
        "unknown kid": (
            jwt.encode(valid_claims, ATTACKER_KEY, algorithm="RS256", headers={"kid": "attacker-key-1"}),
            "unknown_key",
        ),
        "alg none": (jwt.encode(valid_claims, None, algorithm="none"), "unsigned"),
        "HS256 in production": (DevelopmentTokens(test_settings).mint(person["subject"], person["roles"]), "algorithm"),
        "not the provider's key": (
            jwt.encode(valid_claims, ATTACKER_KEY, algorithm="RS256", headers={"kid": provider_kid}),
            "bad_signature",
        ),
        "malformed": ("not-a.jwt", "malformed"),
    }


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_accepts_a_provider_token_and_refuses_every_other_kind(
    service, test_settings, identity_provider
):
    production = test_settings.model_copy(update={"environment": "production"})
    app = service_app(service, production)
    path, person = a_route_and_a_person(app, identity_provider)

    signed_in = await identity_provider.sign_in(person["username"])
    accepted = await call(app, path, signed_in.access_token)
    assert accepted.status_code not in (401, 403), (path, accepted.text)

    for case, (token, reason) in refused_tokens(identity_provider, person, test_settings).items():
        response = await call(app, path, token)
        assert response.status_code == 401, (case, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), case
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"'), case
        problem = response.json()
        assert problem["reason"] == reason, (case, problem)
        # Nothing of the token or of any key comes back.
        assert token[-20:] not in response.text and "BEGIN" not in response.text, case
