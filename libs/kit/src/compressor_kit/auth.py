"""Bearer JWT authentication and the role guard every HTTP route declares.

Access tokens come from the OpenID Connect provider (OIDC_ISSUER), signed with its asymmetric keys
(see `oidc.ProviderKeys`). Every service accepts the one API audience (OIDC_AUDIENCE), so the console
can act across services with the signed-in person's own token. Roles come from a configurable claim
(OIDC_ROLES_CLAIM, mapped by OIDC_ROLE_MAP); roles this system does not know are ignored. In local
and test environments, HS256 development tokens (JWT_SIGNING_KEYS) are accepted as well.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from compressor_contracts import StaffRole
from compressor_kit.oidc import ProviderKeys
from compressor_kit.settings import Settings, parse_signing_keys

DEVELOPMENT_ALGORITHM = "HS256"


CUSTOMER: Final = "customer"
"""The role of a customer's own people: their survey, their report links, their jobs."""
STAFF: tuple[StaffRole, ...] = tuple(StaffRole)
"""Everyone on the service organisation's staff."""
AnyRole = StaffRole | Literal["customer"]


ALL_ROLES: tuple[AnyRole, ...] = (*STAFF, CUSTOMER)
"""Every role a token can hold; others are ignored."""
KNOWN_ROLES = frozenset(str(role) for role in ALL_ROLES)


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    claims: dict[str, Any] = field(default_factory=dict)


def refused(reason: str, detail: str) -> NotAuthorizedException:
    """401 problem+json naming the kind of failure (`reason`), never the keys or the token, with the
    RFC 6750 challenge."""
    return NotAuthorizedException(
        detail=detail,
        extra={"reason": reason},
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{detail}"'},
    )


class DevelopmentTokens:
    """HS256 tokens for ENVIRONMENT=local|test only: `compressor-token` and the tests mint them.
    JWT_SIGNING_KEYS holds `kid:secret` pairs; the first signs, every one verifies (rotation)."""

    def __init__(self, settings: Settings) -> None:
        keys = settings.development_signing_keys()
        if keys is None:
            raise RuntimeError("HS256 development tokens exist only with ENVIRONMENT=local or test")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.keys = parse_signing_keys(keys)

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
        return jwt.encode(payload, secret, algorithm=DEVELOPMENT_ALGORITHM, headers={"kid": kid})

    def signature_checked(self, token: str, kid: str | None) -> dict[str, Any]:
        secret = self.keys.get(kid or "")
        if secret is None:
            raise refused("unknown_key", "token signed with an unknown key")
        return _signature_checked(token, secret, DEVELOPMENT_ALGORITHM)


# PyJWT checks the signature only: the claims are checked after, with this service's clock and rules.
SIGNATURE_ONLY: Any = {claim: False for claim in ("verify_exp", "verify_nbf", "verify_iat", "verify_aud", "verify_iss")}


def _signature_checked(token: str, key: Any, algorithm: str) -> dict[str, Any]:
    """The token's claims once its signature verifies; the claims themselves are checked afterwards."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options=SIGNATURE_ONLY,
        )
    except (jwt.InvalidSignatureError, jwt.InvalidKeyError) as error:
        raise refused("bad_signature", "token signature does not verify") from error
    except jwt.PyJWTError as error:
        raise refused("malformed", "malformed token") from error
    return claims


class TokenVerifier:
    """Checks a bearer token: an access token from the identity provider (its keys, issuer, audience
    and times), or in local and test environments a development HS256 token."""

    def __init__(self, settings: Settings, keys: ProviderKeys | None, wall_clock: Callable[[], float] = time.time):
        self.settings = settings
        self.keys = keys
        self.wall_clock = wall_clock
        self.algorithms = frozenset(a.strip() for a in settings.oidc_algorithms.split(",") if a.strip())
        self.development = DevelopmentTokens(settings) if settings.development else None
        self.role_map = parse_role_map(settings.oidc_role_map)

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise refused("malformed", "malformed token") from error
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise refused("unsigned", "unsigned tokens (alg none) are refused")
        if algorithm == DEVELOPMENT_ALGORITHM:
            if self.development is None:
                raise refused("algorithm", "HS256 tokens are refused outside local and test environments")
            claims = self.development.signature_checked(token, kid)
        elif algorithm in self.algorithms and self.keys is not None:
            key = await self.keys.key_for(kid) if isinstance(kid, str) else None
            if key is None:
                raise refused("unknown_key", "token signed with a key the identity provider does not publish")
            if not key.signs_with(algorithm):
                raise refused("algorithm", f"the provider's key {kid} does not sign with {algorithm}")
            claims = _signature_checked(token, key.key, algorithm)
        else:
            raise refused("algorithm", f"tokens signed with {algorithm} are not accepted")
        self._check_claims(claims)
        return self._principal(claims)

    def _check_claims(self, claims: dict[str, Any]) -> None:
        settings = self.settings
        if claims.get("iss") != settings.oidc_issuer:
            raise refused("issuer", "token from an issuer this service does not trust")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.oidc_audience not in audiences:
            raise refused("audience", f"token not meant for the audience {settings.oidc_audience}")
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", claims.get("iat"))
        if not (isinstance(exp, int | float) and isinstance(iat, int | float) and isinstance(nbf, int | float)):
            raise refused("malformed", "token lacks numeric exp and iat claims")
        now, leeway = self.wall_clock(), settings.oidc_leeway_seconds
        if now > exp + leeway:
            raise refused("expired", "token expired")
        if nbf > now + leeway or iat > now + leeway:
            raise refused("not_yet_valid", "token not valid yet (nbf or iat in the future)")
        if exp - iat > settings.oidc_max_token_lifetime_seconds:
            raise refused("lifetime", "token lifetime longer than this service accepts")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        subject = claims.get(self.settings.oidc_subject_claim)
        if not isinstance(subject, str) or not subject:
            raise refused("subject", f"token has no {self.settings.oidc_subject_claim} claim")
        granted = claim_at(claims, self.settings.oidc_roles_claim)
        if isinstance(granted, str):  # some providers give a space-separated string
            granted = granted.split()
        names = [str(g) for g in granted] if isinstance(granted, list) else []
        roles = frozenset(self.role_map.get(name, name) for name in names) & KNOWN_ROLES
        return Principal(subject=subject, roles=roles, claims=claims)


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The claim at a dotted path (`realm_access.roles`), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def parse_role_map(raw: str) -> dict[str, str]:
    """`external=role` pairs, comma-separated: a provider's group names or ids to this system's roles."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        external, sep, role = pair.partition("=")
        if not sep or role.strip() not in KNOWN_ROLES:
            raise ValueError(f"OIDC_ROLE_MAP: {pair!r} is not external=role with one of {sorted(KNOWN_ROLES)}")
        mapping[external.strip()] = role.strip()
    return mapping


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Litestar guard: a valid bearer token (401 otherwise) holding one of the route's roles (403)."""
    allowed: tuple[AnyRole, ...] = handler.opt["roles"]
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthorizedException(detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    verifier: TokenVerifier = connection.app.state.token_verifier
    principal = await verifier.verify(token.strip())
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
    """`compressor-token --role engineer --sub eng-7`: prints a development token (local and test only)."""
    parser = argparse.ArgumentParser(description="Mint a bearer token for local development")
    parser.add_argument("--sub", default="dev-user")
    parser.add_argument("--role", action="append", choices=[str(r) for r in ALL_ROLES], required=True)
    parser.add_argument("--ttl", type=int, default=3600, help="seconds (at most OIDC_MAX_TOKEN_LIFETIME_SECONDS)")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        tokens = DevelopmentTokens(settings)
    except RuntimeError as error:
        parser.error(str(error))
    print(tokens.mint(args.sub, args.role, ttl_seconds=args.ttl))
