"""A person signing in without a browser: the authorization code flow with PKCE, driven over HTTP
against the local identity provider (infra/idp), its own login form included.

The demo, the end-to-end and fault tests and the benchmark sign their people in this way, so every
token they use is one the provider issued. Only the login step is specific to the local provider
(a form with `username` and `password`); everything else is plain OpenID Connect.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from compressor_kit.oidc import OidcClient, Pkce, Tokens

SCOPE = "openid profile email"
MAX_REDIRECTS = 10


class SignInFailed(RuntimeError):
    pass


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]


class _Forms(HTMLParser):
    """The forms of a page with their hidden and pre-filled inputs (enough for the provider's pages)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower(), {}))
        elif tag in ("input", "button") and self.forms and values.get("name"):
            if tag == "button" or values.get("type") in ("hidden", "submit", "text", None):
                self.forms[-1].fields[values["name"]] = values.get("value", "")


def forms_of(page: httpx.Response) -> list[Form]:
    parser = _Forms()
    parser.feed(page.text)
    return [Form(urljoin(str(page.url), f.action or str(page.url)), f.method, f.fields) for f in parser.forms]


async def _follow(browser: httpx.AsyncClient, response: httpx.Response, stop_at: str) -> httpx.Response:
    """Follow redirects like a browser until one leads to `stop_at` (the client's redirect URI, which
    nothing serves here) or a page is shown."""
    for _ in range(MAX_REDIRECTS):
        if not response.is_redirect:
            return response
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(stop_at):
            return response
        response = await browser.get(location)
    raise SignInFailed(f"more than {MAX_REDIRECTS} redirects")


class Browser:
    """One person's browser: the provider's session cookie lives here between sign-in and sign-out."""

    def __init__(self, client: OidcClient, redirect_uri: str) -> None:
        self.client, self.redirect_uri = client, redirect_uri
        self.cookies = httpx.Cookies()

    def _open(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(cookies=self.cookies, follow_redirects=False, timeout=10)

    async def sign_in(self, username: str, password: str, *, scope: str = SCOPE) -> Tokens:
        """Sign `username` in with the code flow and PKCE; the tokens the client gets at its callback."""
        pkce, state, nonce = Pkce.new(), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        url = await self.client.authorization_url(self.redirect_uri, state, nonce, pkce, scope)
        query = parse_qs(urlsplit(await self.authorize(url, username, password)).query)
        if query.get("state") != [state]:
            raise SignInFailed("the callback's state is not the one sent")
        if "code" not in query:
            raise SignInFailed(f"no code at the callback: {query}")
        return await self.client.exchange_code(query["code"][0], self.redirect_uri, pkce)

    async def authorize(self, authorization_url: str, username: str, password: str) -> str:
        """Open an authorization URL (a client's, e.g. the console's /auth/login redirect), log in at the
        provider's form, and return the URL the provider sends the browser back to (the client's
        callback with its code and state), without opening it."""
        async with self._open() as browser:
            page = await _follow(browser, await browser.get(authorization_url), self.redirect_uri)
            login = next((f for f in forms_of(page) if "username" in f.fields), None)
            if page.is_redirect or login is None:
                raise SignInFailed(f"expected the provider's login form, got {page.status_code}")
            fields = {**login.fields, "username": username, "password": password}
            callback = await _follow(browser, await browser.post(login.action, data=fields), self.redirect_uri)
            self.cookies.update(browser.cookies)
        if not callback.is_redirect:
            raise SignInFailed(f"{username} was not signed in ({callback.status_code}): {callback.text[:200]}")
        return urljoin(str(callback.url), callback.headers["location"])

    async def sign_out(self, tokens: Tokens, post_logout_redirect_uri: str) -> None:
        """RP-initiated logout: the provider asks to confirm, the person confirms."""
        if tokens.id_token is None:
            raise SignInFailed("signing out needs the id token")
        url = await self.client.end_session_url(tokens.id_token, post_logout_redirect_uri)
        async with self._open() as browser:
            page = await _follow(browser, await browser.get(url), post_logout_redirect_uri)
            if not page.is_redirect:
                confirm = next(iter(forms_of(page)), None)
                if confirm is None:
                    raise SignInFailed(f"no logout confirmation form ({page.status_code})")
                answer = await browser.post(confirm.action, data={**confirm.fields, "logout": "yes"})
                page = await _follow(browser, answer, post_logout_redirect_uri)
            self.cookies.update(browser.cookies)
        if not page.is_redirect:
            raise SignInFailed(f"logout did not return to the client ({page.status_code})")
