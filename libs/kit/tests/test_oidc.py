"""Sign-in against the real local identity provider (infra/idp): the code flow with PKCE from the
authorization request to logout, client credentials, and how a service reads the provider's keys
and tokens (key refresh, roles claim, subject claim, a provider that is down)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from litestar import Request, get
from litestar.testing import AsyncTestClient

from compressor_contracts import StaffRole
from compressor_kit.auth import CUSTOMER, principal_of, requires
from compressor_kit.http import create_app
from compressor_kit.oidc import TokenRequestRefused
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.settings import Settings
from compressor_kit.testing.ports import free_port


@get("/me", **requires(*StaffRole, CUSTOMER), sync_to_thread=False)
def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
    principal = principal_of(request)
    return {"subject": principal.subject, "roles": sorted(principal.roles), "name": principal.claims.get("name")}


@get("/backups-only", **requires(StaffRole.ADMIN), sync_to_thread=False)
def admins_only() -> str:
    return "ok"


DEFINITION = ServiceDefinition(
    name="feedback", default_port=0, description="test", route_handlers=[whoami, admins_only]
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def asgi_get(settings: Settings, path: str, token: str) -> tuple[httpx.Response, Any]:
    """One request to an app that was not started: keys load on demand, as after a restart."""
    app = create_app(DEFINITION, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path, headers=bearer(token)), app.state.runtime


async def test_a_person_signs_in_with_the_code_flow_refreshes_and_signs_out(test_settings, identity_provider):
    browser = identity_provider.browser()
    tokens = await browser.sign_in("aisyah", identity_provider.seed["local_password"])
    assert jwt.get_unverified_header(tokens.access_token)["alg"] == "RS256"

    async with AsyncTestClient(create_app(DEFINITION, test_settings)) as service:
        me = await service.get("/me", headers=bearer(tokens.access_token))
        assert me.status_code == 200, me.text
        assert me.json() == {"subject": "STAFF-REC-1", "roles": ["reception"], "name": "Aisyah binti Hassan"}

        assert tokens.refresh_token
        refreshed = await identity_provider.client("console").refresh(tokens.refresh_token)
        assert refreshed.access_token != tokens.access_token
        assert (await service.get("/me", headers=bearer(refreshed.access_token))).json()["subject"] == "STAFF-REC-1"

    await browser.sign_out(refreshed if refreshed.id_token else tokens, "http://127.0.0.1:8000/")
    with pytest.raises(TokenRequestRefused):
        await identity_provider.client("console").refresh(refreshed.refresh_token or tokens.refresh_token)


async def test_a_wrong_password_gets_no_code(identity_provider):
    with pytest.raises(RuntimeError, match="not signed in"):
        await identity_provider.browser().sign_in("aisyah", "not-the-password")


async def test_a_machine_client_acts_with_its_own_roles(test_settings, identity_provider):
    token = await identity_provider.machine_token("backups")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    response, _ = await asgi_get(test_settings, "/backups-only", token)
    assert response.status_code == 200, response.text
    me, _ = await asgi_get(test_settings, "/me", token)
    assert me.json()["subject"] == "backups" and me.json()["roles"] == ["admin"]
    # The demo driver registers accounts; it holds no role in the services.
    driver, _ = await asgi_get(test_settings, "/backups-only", await identity_provider.machine_token("demo-driver"))
    assert driver.status_code == 403


async def test_a_real_token_for_another_audience_is_refused(test_settings, identity_provider):
    token = (await identity_provider.sign_in("rahman")).access_token
    elsewhere = test_settings.model_copy(update={"oidc_audience": "another-api"})
    response, _ = await asgi_get(elsewhere, "/me", token)
    assert response.status_code == 401 and response.json()["reason"] == "audience"


@pytest.mark.parametrize(
    ("claims", "drop", "reason"),
    [
        # Seconds from now, made absolute when the test runs (collection can be minutes earlier).
        ({"nbf": 600}, (), "not_yet_valid"),
        ({"iat": 600, "exp": 900}, (), "not_yet_valid"),
        ({"iat": 0, "exp": 3 * 3600}, (), "lifetime"),
        ({}, ("iss",), "issuer"),
        ({}, ("exp",), "malformed"),
    ],
)
async def test_times_and_lifetime_are_checked(test_settings, identity_provider, claims, drop, reason):
    now = int(time.time())
    token = identity_provider.forge("ES256", drop=drop, **{name: now + delay for name, delay in claims.items()})
    response, _ = await asgi_get(test_settings, "/me", token)
    assert response.status_code == 401 and response.json()["reason"] == reason, response.text


async def test_a_small_clock_skew_is_tolerated(test_settings, identity_provider):
    now = int(time.time())
    token = identity_provider.forge("RS256", iat=now + 10, nbf=now + 10, exp=now + 600)
    response, _ = await asgi_get(test_settings, "/me", token)
    assert response.status_code == 200, response.text


async def test_roles_and_subject_come_from_the_configured_claims(test_settings, identity_provider):
    keycloak_like = test_settings.model_copy(
        update={
            "oidc_roles_claim": "realm_access.roles",
            "oidc_subject_claim": "subject_id",
        }
    )
    token = identity_provider.forge(
        "RS256",
        sub="0b6f1f7e-uuid-of-keycloak",
        subject_id="ENG-002",
        roles=["admin"],  # not where this configuration looks: ignored
        realm_access={"roles": ["engineer", "offline_access", "uma_authorization"]},
    )
    response, _ = await asgi_get(keycloak_like, "/me", token)
    assert response.json()["subject"] == "ENG-002" and response.json()["roles"] == ["engineer"]

    entra_groups = test_settings.model_copy(
        update={"oidc_roles_claim": "groups", "oidc_role_map": "8f1c-inspectors=inspector,2a7d-managers=manager"}
    )
    token = identity_provider.forge("ES256", groups=["8f1c-inspectors", "all-staff"], roles=[])
    response, _ = await asgi_get(entra_groups, "/me", token)
    assert response.json()["roles"] == ["inspector"]

    nothing_known = identity_provider.forge("ES256", roles=["superuser", "root"])
    response, _ = await asgi_get(test_settings, "/me", nothing_known)
    assert response.status_code == 403


async def test_unknown_kids_refresh_the_keys_at_most_once_per_interval(test_settings, identity_provider):
    app = create_app(DEFINITION, test_settings)
    keys = app.state.runtime.provider_keys
    real = await identity_provider.machine_token("backups")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/me", headers=bearer(real))).status_code == 200
        assert keys.refreshes == 1
        for _ in range(30):
            forged = identity_provider.forge("ES256", header={"kid": f"forged-{uuid.uuid4().hex}"})
            response = await client.get("/me", headers=bearer(forged))
            assert response.json()["reason"] == "unknown_key"
    assert keys.refreshes == 1  # the first load only: the interval (60 s) has not passed

    eager = test_settings.model_copy(update={"oidc_keys_refresh_interval_seconds": 0})
    response, runtime = await asgi_get(eager, "/me", identity_provider.forge("ES256", header={"kid": "forged"}))
    assert response.status_code == 401 and runtime.provider_keys.refreshes == 1


async def test_a_provider_that_is_down_at_start_does_not_stop_the_service(test_settings, identity_provider):
    nowhere = f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"
    down = test_settings.model_copy(update={"oidc_discovery_url": nowhere})
    async with AsyncTestClient(create_app(DEFINITION, down)) as service:
        ready = await service.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["identity_provider"].startswith("unavailable")
        assert ready.json()["checks"]["mongodb"] == "ok"
        refused = await service.get("/me", headers=bearer(await identity_provider.machine_token("backups")))
        assert refused.status_code == 401 and refused.json()["reason"] == "unknown_key"


async def test_keys_already_held_keep_working_while_the_provider_is_away(test_settings, identity_provider):
    app = create_app(DEFINITION, test_settings)
    token = await identity_provider.machine_token("backups")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/me", headers=bearer(token))).status_code == 200
        keys = app.state.runtime.provider_keys
        # The provider goes away: every later refresh fails.
        keys.settings = test_settings.model_copy(
            update={"oidc_discovery_url": f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"}
        )
        assert not await keys.refresh()
        assert (await client.get("/me", headers=bearer(token))).status_code == 200
        person = await identity_provider.sign_in("meiling")
        assert (await client.get("/me", headers=bearer(person.access_token))).json()["roles"] == ["inspector"]


def test_a_key_without_alg_signs_with_its_type_and_one_with_alg_only_with_that():
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from compressor_kit.oidc import _signing_keys

    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    rsa_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key, as_dict=True)
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    ec_jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key, as_dict=True)
    keys = _signing_keys(
        {
            "keys": [
                {**rsa_jwk, "kid": "entra-like"},  # Entra publishes no alg
                {**rsa_jwk, "kid": "pinned", "alg": "RS256"},
                {**ec_jwk, "kid": "ec", "alg": "ES256"},
                {**ec_jwk, "kid": "encryption", "use": "enc"},
            ]
        }
    )
    assert set(keys) == {"entra-like", "pinned", "ec"}
    assert keys["entra-like"].signs_with("PS256") and keys["entra-like"].signs_with("RS256")
    assert not keys["entra-like"].signs_with("ES256")
    assert keys["pinned"].signs_with("RS256") and not keys["pinned"].signs_with("PS256")
    assert keys["ec"].signs_with("ES256") and not keys["ec"].signs_with("RS256")
