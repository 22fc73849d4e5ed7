"""Bearer JWT authentication and the role guard every HTTP route declares.

Tokens are HS256 JWTs signed with one of JWT_SIGNING_KEYS (`kid:secret` pairs). The first key
signs; every listed key verifies, so a key can be rotated without logging anyone out.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from compressor_contracts import StaffRole
from compressor_kit.settings import Settings

ALGORITHM = "HS256"


CUSTOMER: Final = "customer"
"""The role of a customer's own people: their survey, their report links, their jobs."""
STAFF: tuple[StaffRole, ...] = tuple(StaffRole)
"""Everyone on the service organisation's staff."""
AnyRole = StaffRole | Literal["customer"]


ALL_ROLES: tuple[AnyRole, ...] = (*STAFF, CUSTOMER)
"""Every role a token can hold; others are ignored."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    claims: dict[str, Any] = field(default_factory=dict)


class TokenAuthority:
    """Signs and verifies tokens with the configured keys."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.keys = parse_signing_keys(settings.jwt_signing_keys.get_secret_value())

    def mint(self, subject: str, roles: list[str], *, ttl_seconds: int = 3600, **claims: Any) -> str:
        kid, secret = next(iter(self.keys.items()))
        now = int(time.time())
        payload = {
            "sub": subject,
            "roles": roles,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl_seconds,
            **claims,
        }
        return jwt.encode(payload, secret, algorithm=ALGORITHM, headers={"kid": kid})

    def verify(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise NotAuthorizedException(detail=f"malformed token: {exc}") from exc
        secret = self.keys.get(kid or "")
        if secret is None:
            raise NotAuthorizedException(detail="token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthorizedException(detail="token expired") from exc
        except jwt.PyJWTError as exc:
            raise NotAuthorizedException(detail=f"invalid token: {exc}") from exc
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise NotAuthorizedException(detail="token has no roles claim")
        return Principal(subject=claims["sub"], roles=frozenset(roles), claims=claims)


def parse_signing_keys(raw: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        kid, sep, secret = pair.partition(":")
        if not sep or not kid or len(secret) < 16:
            raise ValueError("JWT_SIGNING_KEYS must be comma-separated kid:secret pairs, secrets of 16+ characters")
        keys[kid] = secret
    if not keys:
        raise ValueError("JWT_SIGNING_KEYS is empty")
    return keys


def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Litestar guard: a valid bearer token (401 otherwise) holding one of the route's roles (403)."""
    allowed: tuple[AnyRole, ...] = handler.opt["roles"]
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthorizedException(detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    authority: TokenAuthority = connection.app.state.token_authority
    principal = authority.verify(token.strip())
    if not principal.roles.intersection(allowed):
        raise PermissionDeniedException(detail=f"this route needs one of the roles: {', '.join(allowed)}")
    connection.scope["state"]["principal"] = principal


def requires(*roles: AnyRole) -> dict[str, Any]:
    """Route decorator arguments declaring who may call it: `@post("/x", **requires(StaffRole.RECEPTION))`."""
    if not roles:
        raise ValueError("declare at least one role; use public() for open routes")
    return {"guards": [role_guard], "opt": {"roles": tuple(roles)}, "security": [{"BearerToken": []}]}


def public() -> dict[str, Any]:
    """Route decorator arguments for the few open routes (health checks)."""
    return {"opt": {"public": True}}


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal: Principal = connection.scope["state"]["principal"]
    return principal


def mint_token_cli(argv: list[str] | None = None) -> None:
    """`compressor-token --role engineer --sub eng-7`: prints a development token."""
    parser = argparse.ArgumentParser(description="Mint a bearer token for local development")
    parser.add_argument("--sub", default="dev-user")
    parser.add_argument("--role", action="append", choices=[str(r) for r in ALL_ROLES], required=True)
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    args = parser.parse_args(argv)
    settings = Settings()
    print(TokenAuthority(settings).mint(args.sub, args.role, ttl_seconds=args.ttl))
