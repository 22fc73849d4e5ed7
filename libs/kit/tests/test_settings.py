import pytest

from compressor_kit.auth import DevelopmentTokens
from compressor_kit.settings import DEV_JWT_SIGNING_KEYS, Settings


def test_each_service_has_its_own_database_under_a_deployment_prefix():
    settings = Settings(mongodb_database_prefix="e2e_1_")
    assert settings.database_name("intake") == "e2e_1_intake"
    assert settings.database_name("reporting") == "e2e_1_reporting"
    assert Settings().database_name("intake") == "intake"
    assert Settings(mongodb_database="only_this").database_name("intake") == "only_this"


def test_without_environment_a_service_is_in_production_and_refuses_every_development_default(monkeypatch):
    """A forgotten ENVIRONMENT fails closed: no development key, no development token, no default secret."""
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    settings = Settings()
    assert settings.environment == "production" and not settings.development
    assert settings.development_signing_keys() is None
    with pytest.raises(RuntimeError, match="local or test"):
        DevelopmentTokens(settings)
    with pytest.raises(RuntimeError) as refusal:
        settings.check_production()
    for named in ("OIDC_ISSUER", "S3_SECRET_KEY", "guest", "ENVIRONMENT is unset"):
        assert named in str(refusal.value)


@pytest.mark.parametrize("environment", ["local", "test"])
def test_only_an_explicit_local_or_test_environment_accepts_the_development_defaults(monkeypatch, environment):
    monkeypatch.setenv("ENVIRONMENT", environment)
    settings = Settings()
    settings.check_production()
    assert settings.development_signing_keys() == DEV_JWT_SIGNING_KEYS
    DevelopmentTokens(settings).mint("dev-user", ["admin"])


def test_an_explicit_production_refusal_does_not_blame_a_missing_environment(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(RuntimeError) as refusal:
        Settings().check_production()
    assert "ENVIRONMENT is unset" not in str(refusal.value)


@pytest.mark.parametrize(
    "keys",
    [
        "short:" + "s" * 31,  # one byte short
        "ok:" + "o" * 32 + ",short:" + "s" * 16,  # every key counts, not only the signing one
        "multi:" + "é" * 15,  # 30 bytes in UTF-8 (15 characters): bytes count, not characters
        "no-kid-separator" + "x" * 40,
    ],
)
def test_a_development_signing_secret_shorter_than_32_bytes_is_refused_at_start(keys):
    settings = Settings(environment="test", jwt_signing_keys=keys)
    with pytest.raises(RuntimeError, match="32") as refusal:
        settings.check_production()
    assert keys.rsplit(":", 1)[-1] not in str(refusal.value)  # the secret is never in the message
    with pytest.raises(ValueError, match="32"):
        DevelopmentTokens(settings)


def test_a_development_signing_secret_of_32_bytes_signs_and_verifies():
    settings = Settings(environment="test", jwt_signing_keys="k1:" + "é" * 16)  # 32 bytes
    settings.check_production()
    assert DevelopmentTokens(settings).mint("dev-user", ["admin"])
