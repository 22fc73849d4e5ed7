"""The local OpenID Connect provider (infra/idp, started by infra/idp.sh and `make infra-up`), over HTTP
as its clients use it: discovery and keys, client credentials, a person's code flow with PKCE driven
without a browser through the provider's own login page, refresh, sign-out, and the account
registration the demo uses for the people it creates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest

pytestmark = pytest.mark.needs_servers

ROOT = Path(__file__).resolve().parents[2]
SEED: dict[str, Any] = json.loads((ROOT / "infra/idp/seed.json").read_text())
ISSUER = os.environ.get("IDP_ISSUER", f"http://127.0.0.1:{os.environ.get('IDP_PORT', '9400')}")
AUDIENCE = SEED["audience"]
PASSWORD = SEED["local_password"]
SECRET = SEED["local_client_secret"]
CONSOLE = next(c for c in SEED["clients"] if c["client_id"] == "console")
REDIRECT_URI = CONSOLE["redirect_uris"][0]
POST_LOGOUT_URI = CONSOLE["post_logout_redirect_uris"][0]
SCOPE = "openid profile email"
LIFETIME = 900
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


# --- A browser-free client of the provider (the lead moves a driver like this into demo/ later) ----------


class _Page(HTMLParser):
    """The forms (action, method, named fields), labels and headings of a provider page."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, str] = {}
        self.headings: list[str] = []
        self.alerts: list[str] = []
        self._form: dict[str, Any] | None = None
        self._text: tuple[str, str] | None = None  # (what, key) while inside a label, heading or alert

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get"), "fields": {}, "inputs": {}}
            self.forms[a.get("id", f"form{len(self.forms)}")] = self._form
        elif tag in ("input", "button") and "name" in a:
            form = self.forms.get(a.get("form", "")) or self._form
            if form is not None:
                form["inputs"][a["name"]] = a
                if tag == "input" and a.get("type") != "password":
                    form["fields"][a["name"]] = a.get("value", "")
        elif tag == "label":
            self._text = ("label", a.get("for", ""))
            self.labels[a.get("for", "")] = ""
        elif tag in ("h1", "h2"):
            self._text = ("heading", "")
            self.headings.append("")
        elif a.get("role") == "alert":
            self._text = ("alert", a.get("id", ""))
            self.alerts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if tag in ("label", "h1", "h2", "p"):
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is None:
            return
        what, key = self._text
        if what == "label":
            self.labels[key] += data
        elif what == "heading":
            self.headings[-1] += data
        else:
            self.alerts[-1] += data


def parse_page(response: httpx.Response) -> _Page:
    page = _Page()
    page.feed(response.text)
    return page


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def follow(browser: httpx.AsyncClient, response: httpx.Response, stop_at: str) -> httpx.Response:
    """Follow redirects until a page is shown or the next one would leave for `stop_at` (the console,
    which is not running here): that redirect is returned unfollowed."""
    for _ in range(10):
        if not response.is_redirect:
            return response
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(stop_at):
            return response
        response = await browser.get(location)
    raise AssertionError("more than 10 redirects")


@dataclass
class SignIn:
    """One code flow in one browser (its cookie jar keeps the provider's session)."""

    browser: httpx.AsyncClient
    metadata: dict[str, Any]
    verifier: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    async def authorize(self) -> httpx.Response:
        """Ask for a code: the login page, or (already signed in) the redirect to the console."""
        self.verifier, challenge = pkce_pair()
        query = {
            "response_type": "code",
            "client_id": "console",
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        response = await self.browser.get(f"{self.metadata['authorization_endpoint']}?{urlencode(query)}")
        return await follow(self.browser, response, REDIRECT_URI)

    async def submit_login(self, login_page: httpx.Response, username: str, password: str) -> httpx.Response:
        form = parse_page(login_page).forms["login"]
        assert form["method"].lower() == "post"
        data = {**form["fields"], "username": username, "password": password}
        response = await self.browser.post(urljoin(str(login_page.url), form["action"]), data=data)
        return await follow(self.browser, response, REDIRECT_URI)

    def code_from(self, callback: httpx.Response) -> str:
        assert callback.is_redirect, f"{callback.status_code}: {callback.text[:300]}"
        location = callback.headers["location"]
        assert location.startswith(REDIRECT_URI)
        query = parse_qs(urlsplit(location).query)
        assert query["state"] == [self.state]
        assert query["iss"] == [ISSUER]
        return query["code"][0]

    async def exchange(self, code: str, verifier: str | None = None) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier or self.verifier,
        }
        return await self.browser.post(self.metadata["token_endpoint"], data=form, auth=("console", SECRET))

    async def sign_in(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        login_page = await self.authorize()
        response = await self.exchange(self.code_from(await self.submit_login(login_page, username, password)))
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens


async def token_request(
    http: httpx.AsyncClient, metadata: dict[str, Any], client_id: str, **form: str
) -> httpx.Response:
    return await http.post(metadata["token_endpoint"], data=form, auth=(client_id, SECRET))


async def machine_token(http: httpx.AsyncClient, metadata: dict[str, Any], client_id: str) -> str:
    response = await token_request(http, metadata, client_id, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def verified(token: str, jwks: dict[str, Any], audience: str = AUDIENCE) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a token signed by one of the provider's published keys."""
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=[key["alg"]], audience=audience, issuer=ISSUER)
    return header, claims


# --- Fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
async def metadata(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get(f"{ISSUER}/.well-known/openid-configuration")
    assert response.status_code == 200, "the local provider is not running: bash infra/idp.sh start"
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture
async def jwks(http: httpx.AsyncClient, metadata: dict[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = (await http.get(metadata["jwks_uri"])).json()
    return keys


@pytest.fixture
async def browser() -> Any:
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture
def sign_in(browser: httpx.AsyncClient, metadata: dict[str, Any]) -> SignIn:
    return SignIn(browser, metadata)


# --- Discovery and keys ------------------------------------------------------------------------------------


async def test_discovery_names_the_issuer_its_endpoints_and_pkce_s256(metadata: dict[str, Any]) -> None:
    assert metadata["issuer"] == ISSUER
    assert metadata["jwks_uri"] == f"{ISSUER}/jwks"
    for endpoint in ("authorization_endpoint", "token_endpoint", "end_session_endpoint", "revocation_endpoint"):
        assert metadata[endpoint].startswith(f"{ISSUER}/"), endpoint
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(metadata["grant_types_supported"])
    assert {"client_secret_basic", "client_secret_post"} == set(metadata["token_endpoint_auth_methods_supported"])
    assert "offline_access" not in metadata["scopes_supported"]


async def test_jwks_publishes_an_rs256_and_an_es256_key_and_no_private_parts(jwks: dict[str, Any]) -> None:
    keys = {key["alg"]: key for key in jwks["keys"]}
    assert keys["RS256"]["kty"] == "RSA"
    assert keys["ES256"]["kty"] == "EC"
    assert keys["ES256"]["crv"] == "P-256"
    for key in jwks["keys"]:
        assert key["kid"] and key["use"] == "sig"
        assert not PRIVATE_JWK_MEMBERS & key.keys(), f"{key['kid']} publishes private members"
        assert jwt.PyJWK(key).key  # usable as a public key


# --- Client credentials ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_client_credentials_give_an_es256_api_token_with_the_clients_roles(
    http: httpx.AsyncClient, metadata: dict[str, Any], jwks: dict[str, Any], method: str
) -> None:
    form = {"grant_type": "client_credentials"}  # no `resource`: the API is the default
    if method == "client_secret_post":
        response = await http.post(
            metadata["token_endpoint"], data={**form, "client_id": "dlq-replay", "client_secret": SECRET}
        )
    else:
        response = await http.post(metadata["token_endpoint"], data=form, auth=("dlq-replay", SECRET))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == LIFETIME
    assert "refresh_token" not in body

    header, claims = verified(body["access_token"], jwks)
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"
    assert header["kid"] in {key["kid"] for key in jwks["keys"] if key["alg"] == "ES256"}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == claims["client_id"] == "dlq-replay"
    assert claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert claims["jti"]
    assert "name" not in claims


async def test_client_credentials_for_a_client_without_roles_carry_an_empty_role_list(
    http: httpx.AsyncClient, metadata: dict[str, Any], jwks: dict[str, Any]
) -> None:
    _, claims = verified(await machine_token(http, metadata, "demo-driver"), jwks)
    assert claims["sub"] == "demo-driver"
    assert claims["roles"] == []


async def test_a_wrong_client_secret_is_refused(http: httpx.AsyncClient, metadata: dict[str, Any]) -> None:
    response = await http.post(
        metadata["token_endpoint"], data={"grant_type": "client_credentials"}, auth=("dlq-replay", "not-the-secret")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


async def test_the_console_may_not_use_client_credentials(http: httpx.AsyncClient, metadata: dict[str, Any]) -> None:
    response = await token_request(http, metadata, "console", grant_type="client_credentials")
    assert response.status_code == 400
    # oidc-provider answers invalid_request ("requested grant type is not allowed for this client").
    assert response.json()["error"] in ("invalid_request", "unauthorized_client")
    assert "access_token" not in response.json()


# --- A person's code flow ----------------------------------------------------------------------------------


async def test_code_flow_with_pkce_refresh_and_sign_out(
    sign_in: SignIn, http: httpx.AsyncClient, metadata: dict[str, Any], jwks: dict[str, Any]
) -> None:
    aisyah = next(p for p in SEED["people"] if p["username"] == "aisyah")

    login_page = await sign_in.authorize()
    assert login_page.status_code == 200
    assert urlsplit(str(login_page.url)).path.startswith("/interaction/")
    page = parse_page(login_page)
    assert "Sign in to Compressor Service" in page.headings
    form = page.forms["login"]
    uid = urlsplit(str(login_page.url)).path.rsplit("/", 1)[1]
    assert form["action"] == f"/interaction/{uid}/login"
    assert form["inputs"]["username"]["id"] in page.labels
    assert form["inputs"]["password"]["type"] == "password"
    assert form["inputs"]["password"]["id"] in page.labels

    # No consent page: the console is first-party, the next stop is its callback.
    callback = await sign_in.submit_login(login_page, "aisyah", PASSWORD)
    response = await sign_in.exchange(sign_in.code_from(callback))
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["expires_in"] == LIFETIME
    assert tokens["refresh_token"]

    header, claims = verified(tokens["access_token"], jwks)  # no `resource` was asked for
    assert header["alg"] == "RS256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"] if key["alg"] == "RS256"}
    assert claims["sub"] == aisyah["subject"] == "STAFF-REC-1"
    assert claims["roles"] == ["reception"]
    assert claims["name"] == aisyah["name"]
    assert claims["client_id"] == "console"
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert claims["jti"]

    _, id_claims = verified(tokens["id_token"], jwks, audience="console")
    assert id_claims["sub"] == "STAFF-REC-1"
    assert id_claims["nonce"] == sign_in.nonce
    assert (id_claims["name"], id_claims["email"], id_claims["roles"]) == (
        aisyah["name"],
        aisyah["email"],
        ["reception"],
    )

    # Signed in at the provider: another authorization goes straight back to the console.
    assert (await sign_in.authorize()).is_redirect

    refreshed = await token_request(
        http, metadata, "console", grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    _, claims = verified(refreshed.json()["access_token"], jwks)
    assert (claims["sub"], claims["roles"], claims["aud"]) == ("STAFF-REC-1", ["reception"], AUDIENCE)
    refresh_token = refreshed.json().get("refresh_token", tokens["refresh_token"])  # rotated or not

    # RP-initiated logout, confirmed on the provider's page, back to the console.
    query = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "bye"}
    confirm_page = await sign_in.browser.get(f"{metadata['end_session_endpoint']}?{urlencode(query)}")
    assert confirm_page.status_code == 200
    logout_form = parse_page(confirm_page).forms["op.logoutForm"]
    assert logout_form["inputs"]["logout"]["value"] == "yes"
    answer = await sign_in.browser.post(
        urljoin(str(confirm_page.url), logout_form["action"]), data={**logout_form["fields"], "logout": "yes"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{POST_LOGOUT_URI}?state=bye"

    refused = await token_request(http, metadata, "console", grant_type="refresh_token", refresh_token=refresh_token)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # The session is gone too: the next authorization asks for the password again.
    again = await sign_in.authorize()
    assert again.status_code == 200
    assert "login" in parse_page(again).forms


async def test_a_wrong_password_shows_the_form_again_with_the_username_kept(sign_in: SignIn) -> None:
    login_page = await sign_in.authorize()
    form = parse_page(login_page).forms["login"]
    response = await sign_in.browser.post(
        urljoin(str(login_page.url), form["action"]), data={"username": "aisyah", "password": "wrong"}
    )
    assert response.status_code in (200, 401)
    assert not response.is_redirect
    page = parse_page(response)
    assert "Wrong username or password." in page.alerts
    assert page.forms["login"]["fields"]["username"] == "aisyah"
    assert page.forms["login"]["action"] == form["action"]

    # Nothing was finished: the same interaction still takes the right password.
    callback = await sign_in.submit_login(response, "aisyah", PASSWORD)
    assert sign_in.code_from(callback)


async def test_an_unknown_user_gets_the_same_answer(sign_in: SignIn) -> None:
    login_page = await sign_in.authorize()
    response = await sign_in.submit_login(login_page, "nobody-" + uuid.uuid4().hex[:8], PASSWORD)
    assert not response.is_redirect
    assert "Wrong username or password." in parse_page(response).alerts


async def test_a_code_with_the_wrong_verifier_is_refused(sign_in: SignIn) -> None:
    code = sign_in.code_from(await sign_in.submit_login(await sign_in.authorize(), "lim", PASSWORD))
    response = await sign_in.exchange(code, verifier=pkce_pair()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


async def test_an_authorization_without_pkce_is_refused(browser: httpx.AsyncClient, metadata: dict[str, Any]) -> None:
    query = {"response_type": "code", "client_id": "console", "redirect_uri": REDIRECT_URI, "scope": SCOPE}
    response = await browser.get(f"{metadata['authorization_endpoint']}?{urlencode(query)}")
    assert response.is_redirect
    error = parse_qs(urlsplit(response.headers["location"]).query)
    assert error["error"] == ["invalid_request"]
    assert "PKCE" in error["error_description"][0]


# --- Account registration ----------------------------------------------------------------------------------


async def test_account_registration(
    http: httpx.AsyncClient, metadata: dict[str, Any], jwks: dict[str, Any], sign_in: SignIn
) -> None:
    accounts = f"{ISSUER}/accounts"
    run = uuid.uuid4().hex[:10]
    username, subject = f"test-{run}", f"CUST-TEST-{run}"
    account = {
        "username": username,
        "password": "pw-" + run,
        "subject": subject,
        "name": "Test Customer",
        "roles": ["customer"],
    }
    driver = {"Authorization": f"Bearer {await machine_token(http, metadata, 'demo-driver')}"}

    assert (await http.post(accounts, json=account)).status_code == 401
    assert (await http.post(accounts, json=account, headers={"Authorization": "Bearer not-a-token"})).status_code == 401
    dlq = {"Authorization": f"Bearer {await machine_token(http, metadata, 'dlq-replay')}"}
    assert (await http.post(accounts, json=account, headers=dlq)).status_code == 403
    assert (await http.post(accounts, json={**account, "roles": ["admin"]}, headers=driver)).status_code == 400
    assert (await http.post(accounts, json={**account, "subject": ""}, headers=driver)).status_code == 400

    created = await http.post(accounts, json=account, headers=driver)
    try:
        assert created.status_code == 201, created.text
        assert created.json() == {
            "username": username,
            "subject": subject,
            "name": "Test Customer",
            "roles": ["customer"],
        }
        assert (await http.post(accounts, json=account, headers=driver)).status_code == 200
        taken = await http.post(accounts, json={**account, "subject": f"CUST-OTHER-{run}"}, headers=driver)
        assert taken.status_code == 409
        seed_person = await http.post(
            accounts, json={**account, "username": "lim", "subject": "ENG-001"}, headers=driver
        )
        assert seed_person.status_code == 409

        tokens = await sign_in.sign_in(username, account["password"])
        _, claims = verified(tokens["access_token"], jwks)
        assert (claims["sub"], claims["roles"], claims["name"]) == (subject, ["customer"], "Test Customer")

        # A person's token does not register accounts, whoever the person is.
        person = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.post(accounts, json=account, headers=person)).status_code == 403
    finally:
        deleted = await http.delete(f"{accounts}/{username}", headers=driver)
    assert deleted.status_code == 204
    assert (await http.delete(f"{accounts}/{username}", headers=driver)).status_code == 404
    assert (await http.delete(f"{accounts}/lim", headers=dlq)).status_code == 403

    # The browser's session at the provider is for the removed account: it is asked to sign in again,
    # and the removed account's password no longer works.
    login_page = await sign_in.authorize()
    assert login_page.status_code == 200
    gone = await sign_in.submit_login(login_page, username, account["password"])
    assert "Wrong username or password." in parse_page(gone).alerts


async def test_an_engineer_can_be_registered_too(http: httpx.AsyncClient, metadata: dict[str, Any]) -> None:
    run = uuid.uuid4().hex[:10]
    driver = {"Authorization": f"Bearer {await machine_token(http, metadata, 'demo-driver')}"}
    body = {"username": f"eng-{run}", "password": "pw", "subject": f"ENG-T{run}", "name": "E", "roles": ["engineer"]}
    created = await http.post(f"{ISSUER}/accounts", json=body, headers=driver)
    assert created.status_code == 201, created.text
    assert (await http.delete(f"{ISSUER}/accounts/eng-{run}", headers=driver)).status_code == 204


# --- Production ----------------------------------------------------------------------------------------------


def test_the_provider_refuses_to_start_in_production(tmp_path: Path) -> None:
    environment = {
        **os.environ,
        "ENVIRONMENT": "production",
        "IDP_PORT": "9",
        "IDP_KEYS_FILE": str(tmp_path / "keys.json"),
    }
    result = subprocess.run(
        ["node", str(ROOT / "infra/idp/server.js")], env=environment, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "ENVIRONMENT=production" in result.stderr
    assert not (tmp_path / "keys.json").exists()
