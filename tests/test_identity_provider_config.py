"""The two identity providers hold the same people, roles and clients, and compose's services read
Keycloak's tokens the way the realm issues them.

infra/idp/seed.json configures the local provider (local and test); infra/keycloak/realm-compressor.json
is the Keycloak realm docker-compose imports. Whatever a test proves against the local provider holds
in a deployment only while the two agree: the same usernames, subjects, emails and roles; the system's
roles and no others; the same clients with the same grants (the console's code flow with PKCE S256
and refresh tokens, client credentials only for the machine clients), redirect addresses and
service-account roles; access tokens for the one API audience carrying the staff or customer id in
`subject_id` and the roles in `realm_access.roles`, signed with the algorithms the seed names; and
no secret in the realm file but `${...}` placeholders that compose gives Keycloak from the environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from compressor_kit.auth import ALL_ROLES
from compressor_kit.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEED: dict[str, Any] = json.loads((ROOT / "infra/idp/seed.json").read_text())
REALM: dict[str, Any] = json.loads((ROOT / "infra/keycloak/realm-compressor.json").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry")

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
ONLY_A_PLACEHOLDER = re.compile(r"^\$\{[A-Z][A-Z0-9_]*\}$")
# The console's public address in the realm: registered addresses are this plus the seed's path.
CONSOLE_URL = "${CONSOLE_PUBLIC_URL}"
SERVICE_ACCOUNT_PREFIX = "service-account-"
# What Keycloak's built-in "roles" client scope writes (realm roles) and "basic" (sub); a realm file
# that declares client scopes of its own gets none of the built-ins, so these would have to be in it.
ROLES_SCOPE, BASIC_SCOPE = "roles", "basic"
KEYCLOAK_ROLES_CLAIM = "realm_access.roles"
# Key providers that sign with each algorithm (generated, or imported from a key pair).
KEY_PROVIDERS = {
    "RS256": {"rsa-generated", "rsa"},
    "ES256": {"ecdsa-generated", "ecdsa"},
    "PS256": {"rsa-generated", "rsa"},
}
CURVES = {"ES256": "P-256"}
# Realm-file fields (lower-cased endings) whose value is a secret: a client's, a password, a key, a bind
# credential.
SECRET_KEYS = ("secret", "password", "privatekey", "secretdata", "bindcredential", "credentialdata")


def seed_client(client_id: str) -> dict[str, Any]:
    return next(c for c in SEED["clients"] if c["client_id"] == client_id)


def realm_client(client_id: str) -> dict[str, Any]:
    matches = [c for c in REALM.get("clients", []) if c["clientId"] == client_id]
    assert len(matches) == 1, f"realm: {len(matches)} clients named {client_id}"
    return matches[0]


def realm_people() -> dict[str, dict[str, Any]]:
    return {u["username"]: u for u in REALM.get("users", []) if not u["username"].startswith(SERVICE_ACCOUNT_PREFIX)}


def service_accounts() -> dict[str, dict[str, Any]]:
    return {u["username"]: u for u in REALM.get("users", []) if u["username"].startswith(SERVICE_ACCOUNT_PREFIX)}


def attribute(user: dict[str, Any], name: str) -> list[str]:
    return list((user.get("attributes") or {}).get(name) or [])


def grants(client: dict[str, Any]) -> set[str]:
    """The OAuth grant types a Keycloak client allows, named as the seed names them."""
    attributes = client.get("attributes") or {}
    allowed = set()
    if client.get("standardFlowEnabled", True):
        allowed.add("authorization_code")
        if attributes.get("use.refresh.tokens", "true") != "false":
            allowed.add("refresh_token")
    if client.get("serviceAccountsEnabled", False):
        allowed.add("client_credentials")
        if attributes.get("client_credentials.use_refresh_token") == "true":
            allowed.add("refresh_token")
    if client.get("implicitFlowEnabled", False):
        allowed.add("implicit")
    if client.get("directAccessGrantsEnabled", False):
        allowed.add("password")
    if attributes.get("oauth2.device.authorization.grant.enabled") == "true":
        allowed.add("urn:ietf:params:oauth:grant-type:device_code")
    if attributes.get("oidc.ciba.grant.enabled") == "true":
        allowed.add("urn:openid:params:grant-type:ciba")
    if attributes.get("standard.token.exchange.enabled") == "true":
        allowed.add("urn:ietf:params:oauth:grant-type:token-exchange")
    return allowed


def token_mappers(client: dict[str, Any]) -> list[dict[str, Any]]:
    """The protocol mappers on the client and on the realm file's client scopes it has by default."""
    scopes = {s["name"]: s for s in REALM.get("clientScopes") or []}
    mappers = list(client.get("protocolMappers") or [])
    for name in client.get("defaultClientScopes") or []:
        mappers += (scopes.get(name) or {}).get("protocolMappers") or []
    return mappers


def in_access_token(mapper: dict[str, Any]) -> bool:
    return (mapper.get("config") or {}).get("access.token.claim") == "true"


def local_path(uri: str) -> str:
    """A seed address without its local scheme and host: what follows the console's public URL."""
    parts = urlsplit(uri)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def realm_paths(uris: list[str], what: str) -> list[str]:
    paths = []
    for uri in uris:
        assert uri.startswith(CONSOLE_URL), f"{what}: {uri} is not under {CONSOLE_URL}"
        assert "*" not in uri, f"{what}: {uri} is a wildcard"
        paths.append(uri.removeprefix(CONSOLE_URL))
    return paths


def walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (path, value) in a JSON document."""
    found = [(path, value)]
    if isinstance(value, dict):
        for key, item in value.items():
            found += walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += walk(item, f"{path}[{index}]")
    return found


def service_environment(name: str) -> dict[str, Any]:
    value = COMPOSE["services"][name].get("environment") or {}
    return value if isinstance(value, dict) else dict(item.split("=", 1) for item in value)


# --- people and roles -------------------------------------------------------------------------------


def test_the_same_people():
    assert set(realm_people()) == {p["username"] for p in SEED["people"]}


@pytest.mark.parametrize("person", SEED["people"], ids=lambda p: p["username"])
def test_each_person_agrees(person):
    user = realm_people()[person["username"]]
    assert user.get("enabled", True) is True
    assert user.get("email") == person["email"]
    assert attribute(user, "subject_id") == [person["subject"]], "the staff or customer id services see"
    assert " ".join(filter(None, (user.get("firstName"), user.get("lastName")))) == person["name"]
    assert sorted(user.get("realmRoles") or []) == sorted(person["roles"])
    assert not user.get("clientRoles"), "people hold realm roles only"


def test_every_subject_is_one_persons():
    subjects = [attribute(u, "subject_id") for u in REALM.get("users", [])]
    flat = [s for values in subjects for s in values]
    assert len(flat) == len(set(flat)), "two accounts would be the same person to the services"


def test_people_sign_in_first_with_a_temporary_password_from_the_environment():
    for username, user in realm_people().items():
        passwords = [c for c in user.get("credentials") or [] if c.get("type") == "password"]
        assert len(passwords) == 1, username
        assert ONLY_A_PLACEHOLDER.match(str(passwords[0].get("value"))), f"{username}: literal password"
        assert passwords[0].get("temporary") is True, f"{username}: the imported password must be changed"


def test_the_realm_roles_are_the_systems_roles():
    realm_roles = {role["name"] for role in (REALM.get("roles") or {}).get("realm") or []}
    assert realm_roles == {str(role) for role in ALL_ROLES}
    used = {r for p in SEED["people"] for r in p["roles"]} | {r for c in SEED["clients"] for r in c["roles"]}
    assert used <= realm_roles, f"the seed grants roles the system does not know: {used - realm_roles}"


# --- clients ----------------------------------------------------------------------------------------


def test_the_same_clients():
    assert {c["clientId"] for c in REALM.get("clients", [])} == {c["client_id"] for c in SEED["clients"]}


@pytest.mark.parametrize("client_id", [c["client_id"] for c in SEED["clients"]])
def test_each_client_allows_the_seeds_grants_only(client_id):
    seed, client = seed_client(client_id), realm_client(client_id)
    assert grants(client) == set(seed["grant_types"])
    assert client.get("enabled", True) is True
    assert client.get("publicClient") is False, "every client is confidential"
    assert client.get("bearerOnly", False) is False
    assert ONLY_A_PLACEHOLDER.match(str(client.get("secret"))), f"{client_id}: literal or missing secret"


@pytest.mark.parametrize(
    "client_id", [c["client_id"] for c in SEED["clients"] if "authorization_code" in c["grant_types"]]
)
def test_people_sign_in_with_the_code_flow_and_pkce_s256(client_id):
    seed, client = seed_client(client_id), realm_client(client_id)
    attributes = client.get("attributes") or {}
    assert attributes.get("pkce.code.challenge.method") == "S256"
    assert sorted(realm_paths(client.get("redirectUris") or [], f"{client_id} redirect")) == sorted(
        local_path(uri) for uri in seed["redirect_uris"]
    )
    logout = [u for u in (attributes.get("post.logout.redirect.uris") or "").split("##") if u]
    assert sorted(realm_paths(logout, f"{client_id} post-logout redirect")) == sorted(
        local_path(uri) for uri in seed["post_logout_redirect_uris"]
    )


@pytest.mark.parametrize(
    "client_id", [c["client_id"] for c in SEED["clients"] if "authorization_code" not in c["grant_types"]]
)
def test_machine_clients_have_no_browser_sign_in(client_id):
    client = realm_client(client_id)
    assert client.get("standardFlowEnabled") is False
    assert client.get("serviceAccountsEnabled") is True
    assert not client.get("redirectUris"), f"{client_id}: a machine client has nowhere to send a browser"


def test_each_machine_client_has_its_service_account_with_the_seeds_roles():
    expected = {
        SERVICE_ACCOUNT_PREFIX + c["client_id"]: c for c in SEED["clients"] if "client_credentials" in c["grant_types"]
    }
    accounts = service_accounts()
    assert set(accounts) == set(expected)
    for username, seed in expected.items():
        account = accounts[username]
        assert account.get("serviceAccountClientId") == seed["client_id"]
        assert sorted(account.get("realmRoles") or []) == sorted(seed["roles"]), username
        assert attribute(account, "subject_id") == [seed["client_id"]], f"{username}: subject_id is the client id"
        assert not account.get("credentials"), f"{username}: a service account signs in with its client's secret"
        # Registering sign-in accounts is Keycloak's user administration (the admin API), nothing more.
        client_roles = account.get("clientRoles") or {}
        if seed.get("may_register_accounts"):
            assert client_roles == {"realm-management": ["manage-users"]}, username
        else:
            assert not client_roles, f"{username}: may not administer the realm"


# --- what access tokens carry -----------------------------------------------------------------------


@pytest.mark.parametrize("client_id", [c["client_id"] for c in SEED["clients"]])
def test_access_tokens_are_for_the_api_audience(client_id):
    audiences = [
        m["config"].get("included.custom.audience")
        for m in token_mappers(realm_client(client_id))
        if m.get("protocolMapper") == "oidc-audience-mapper" and in_access_token(m)
    ]
    assert audiences == [SEED["audience"]], f"{client_id}: {audiences}"


@pytest.mark.parametrize("client_id", [c["client_id"] for c in SEED["clients"]])
def test_access_tokens_carry_the_subject_id(client_id):
    mappers = [
        m
        for m in token_mappers(realm_client(client_id))
        if m.get("protocolMapper") == "oidc-usermodel-attribute-mapper"
        and (m.get("config") or {}).get("user.attribute") == "subject_id"
    ]
    assert len(mappers) == 1, f"{client_id}: {len(mappers)} subject_id mappers"
    config = mappers[0]["config"]
    assert in_access_token(mappers[0])
    assert config.get("claim.name") == "subject_id"
    assert config.get("jsonType.label") == "String" and config.get("multivalued", "false") == "false"


@pytest.mark.parametrize("client_id", [c["client_id"] for c in SEED["clients"]])
def test_access_tokens_carry_the_realm_roles(client_id):
    """Keycloak's built-in "roles" scope writes realm_access.roles, "basic" the sub: both are the
    client's defaults, and the realm file declares no client scopes (which would drop the built-ins)."""
    client = realm_client(client_id)
    assert {ROLES_SCOPE, BASIC_SCOPE} <= set(client.get("defaultClientScopes") or [])
    declared = {s["name"]: s for s in REALM.get("clientScopes") or []}
    if declared:
        roles = [
            m
            for m in declared.get(ROLES_SCOPE, {}).get("protocolMappers") or []
            if m.get("protocolMapper") == "oidc-usermodel-realm-role-mapper"
        ]
        assert roles and roles[0]["config"].get("claim.name") == KEYCLOAK_ROLES_CLAIM
        assert BASIC_SCOPE in declared
    assert client.get("fullScopeAllowed", True) is True, "a restricted scope would drop realm roles"


def test_people_cannot_change_their_own_subject_id():
    """subject_id is a declared user-profile attribute (Keycloak 24+ drops undeclared ones from tokens)
    that only administrators edit: a person who could would become someone else to the services."""
    providers = (REALM.get("components") or {}).get("org.keycloak.userprofile.UserProfileProvider") or []
    assert len(providers) == 1
    profile = json.loads(providers[0]["config"]["kc.user.profile.config"][0])
    declared = {a["name"]: a for a in profile["attributes"]}
    assert {"username", "email", "subject_id"} <= set(declared)
    assert declared["subject_id"]["permissions"]["edit"] == ["admin"]
    assert declared["subject_id"].get("multivalued", False) is False
    assert profile.get("unmanagedAttributePolicy") in (None, "ADMIN_VIEW"), "people could add attributes"
    # Keycloak asks for any required attribute the imported people lack before it signs them in.
    for username, user in realm_people().items():
        for name, spec in declared.items():
            if "user" in ((spec.get("required") or {}).get("roles") or []):
                assert user.get(name) or attribute(user, name), f"{username} lacks the required {name}"


@pytest.mark.parametrize("client_id", [c["client_id"] for c in SEED["clients"]])
def test_tokens_are_signed_as_the_seed_says_with_a_key_the_realm_has(client_id):
    algorithm = seed_client(client_id)["access_token_alg"]
    client = realm_client(client_id)
    assert (client.get("attributes") or {}).get(
        "access.token.signed.response.alg", REALM.get("defaultSignatureAlgorithm", "RS256")
    ) == algorithm
    accepted = Settings.model_fields["oidc_algorithms"].default.split(",")
    assert algorithm in accepted, f"the services refuse {algorithm} tokens"
    providers = (REALM.get("components") or {}).get("org.keycloak.keys.KeyProvider") or []
    signing = [p for p in providers if p["providerId"] in KEY_PROVIDERS[algorithm]]
    if algorithm in CURVES:
        signing = [p for p in signing if p["config"].get("ecdsaEllipticCurveKey") == [CURVES[algorithm]]]
    assert signing or (not providers and algorithm == "RS256"), f"no {algorithm} key in the realm"


def test_the_realm_keeps_keycloaks_own_keys_when_it_declares_some():
    """Keycloak generates its default keys only for a realm file that declares none: one that does
    must declare the RS256 default, the HS512 key refresh tokens are signed with, and the AES key."""
    providers = (REALM.get("components") or {}).get("org.keycloak.keys.KeyProvider") or []
    if providers:
        ids = {p["providerId"] for p in providers}
        assert ids & {"rsa-generated", "rsa"}
        assert any(p["providerId"] == "hmac-generated" and p["config"].get("algorithm") == ["HS512"] for p in providers)
        assert "aes-generated" in ids
    assert REALM.get("defaultSignatureAlgorithm", "RS256") == "RS256"


def test_token_lifetimes_are_ones_the_services_accept():
    assert REALM.get("accessTokenLifespan") == 900
    longest = Settings.model_fields["oidc_max_token_lifetime_seconds"].default
    for client in REALM.get("clients", []):
        lifespan = int((client.get("attributes") or {}).get("access.token.lifespan") or REALM["accessTokenLifespan"])
        assert lifespan <= longest, f"{client['clientId']}: tokens of {lifespan}s are refused"


# --- secrets ----------------------------------------------------------------------------------------


def test_the_realm_file_holds_no_secret():
    for path, value in walk(REALM):
        key = path.rsplit(".", 1)[-1].lower()
        if isinstance(value, str) and key.endswith(SECRET_KEYS):
            assert ONLY_A_PLACEHOLDER.match(value), f"{path} is a literal"
        if path.endswith(".value") and ".credentials[" in path:
            assert ONLY_A_PLACEHOLDER.match(str(value)), f"{path} is a literal"
    text = json.dumps(REALM)
    for development in (SEED["local_password"], SEED["local_client_secret"]):
        assert development not in text, "the local provider's development secrets stay out of the realm"


def test_keycloak_is_given_every_placeholder_from_a_required_variable():
    """Keycloak imports an unset placeholder literally (a client secret of "${X}"): compose refuses
    to start without each one."""
    used = set(PLACEHOLDER.findall(json.dumps(REALM)))
    assert used, "the realm file has no placeholders"
    env = service_environment("keycloak")
    for name in sorted(used):
        assert re.fullmatch(r"\$\{" + name + r":\?[^}]*\}", str(env.get(name))), f"keycloak: {name} not required"


# --- compose's services read the realm's tokens -----------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_the_services_read_the_realms_tokens(name):
    env = service_environment(name)
    assert env["OIDC_AUDIENCE"] == SEED["audience"]
    assert env["OIDC_ROLES_CLAIM"] == KEYCLOAK_ROLES_CLAIM
    subject_claims = {
        m["config"]["claim.name"]
        for c in REALM.get("clients", [])
        for m in token_mappers(c)
        if (m.get("config") or {}).get("user.attribute") == "subject_id"
    }
    assert subject_claims == {env["OIDC_SUBJECT_CLAIM"]}
    assert str(env["OIDC_ISSUER"]).endswith(f"/realms/{REALM['realm']}")
    assert urlsplit(str(env["OIDC_DISCOVERY_URL"])).path == f"/realms/{REALM['realm']}/.well-known/openid-configuration"
    assert not env.get("OIDC_ROLE_MAP"), "the realm's role names are the system's"
