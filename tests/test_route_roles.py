"""Every route of every service, walked from its OpenAPI document: no token 401, a wrong role 403.

The console's pages take a session cookie, not a bearer token (`console_service.sessions.guard.pages`):
they are left out of the OpenAPI document, and without a session each sends the browser to sign in
and back; their wrong-role answer (a 403 page) needs a signed-in person and is tested in the console's
own tests (a customer signing in)."""

import importlib
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from compressor_contracts import SERVICES
from compressor_kit.auth import ALL_ROLES, AnyRole
from compressor_kit.http import create_app

PATH_PARAM = re.compile(r"\{[^}]+\}")


def protected_operations(app) -> list[tuple[str, str, tuple[AnyRole, ...]]]:
    """(method, path, roles) of every operation in the OpenAPI document that is not public."""
    document = app.openapi_schema.to_schema()
    operations = []
    for route in app.routes:
        if route.path.startswith("/schema"):
            continue  # the OpenAPI document itself is open by design
        for handler in getattr(route, "route_handlers", []):
            if handler.handler_name == "options_handler" or handler.opt.get("public") or handler.opt.get("session"):
                continue
            for method in sorted(handler.http_methods):
                assert route.path_format in document["paths"], f"{route.path} is missing from the OpenAPI document"
                operation = document["paths"][route.path_format][method.lower()]
                assert operation.get("security") == [{"BearerToken": []}], f"{method} {route.path} declares no auth"
                assert operation.get("operationId"), f"{method} {route.path} has no operation_id"
                operations.append((method, route.path_format, handler.opt["roles"]))
    return operations


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_refuses_a_missing_token_and_a_wrong_role(service, test_settings, tokens):
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    app = create_app(definition, test_settings)
    operations = protected_operations(app)
    transport = httpx.ASGITransport(app=app)  # no lifespan: the guard answers before any handler runs
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for method, path, roles in operations:
            url = PATH_PARAM.sub("1", path)  # "1" fits both string and integer parameters
            anonymous = await client.request(method, url)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.headers["content-type"].startswith("application/problem+json")
            others = [role for role in ALL_ROLES if role not in roles]
            if others:
                wrong = tokens.mint("someone", [others[0]])
                refused = await client.request(method, url, headers={"Authorization": f"Bearer {wrong}"})
                assert refused.status_code == 403, (method, path, roles, refused.text)


def session_pages(app) -> list[tuple[str, str, tuple[AnyRole, ...]]]:
    """(method, path, roles) of every page guarded by a session."""
    pages = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("session"):
                assert handler.opt.get("roles"), f"{route.path} declares no roles"
                assert not handler.include_in_schema, f"{route.path}: a page is not an API operation"
                pages += [(method, route.path_format, handler.opt["roles"]) for method in sorted(handler.http_methods)]
    return pages


@pytest.mark.parametrize("service", SERVICES)
async def test_every_page_sends_a_visitor_without_a_session_to_sign_in(service, test_settings):
    definition = importlib.import_module(f"{service}_service.app").SERVICE
    app = create_app(definition, test_settings)
    pages = session_pages(app)
    assert bool(pages) == (service == "console"), "only the console serves pages"
    transport = httpx.ASGITransport(app=app)
    cookies = {"console_session": "not-a-session"}  # a cookie naming no session is no session
    async with httpx.AsyncClient(transport=transport, base_url="http://test", cookies=cookies) as client:
        for method, path, _roles in pages:
            url = PATH_PARAM.sub("1", path)
            answer = await client.request(method, url)
            assert answer.status_code == 303, (method, path, answer.text)
            location = urlsplit(answer.headers["location"])
            assert location.path == "/auth/login", (method, path, location)
            assert parse_qs(location.query)["next"] == [url if method == "GET" else "/"], (method, path)
