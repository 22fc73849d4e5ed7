"""Every route of every service, walked from its OpenAPI document: no token 401, a wrong role 403."""

import importlib
import re

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
            if handler.handler_name == "options_handler" or handler.opt.get("public"):
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
