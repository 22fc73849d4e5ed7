"""In production the console refuses the local provider's secret and a public URL that is not https."""

import pytest
from console_service.settings import ConsoleSettings
from pydantic import SecretStr


def test_production_needs_the_consoles_own_secret_and_https():
    settings = ConsoleSettings(environment="production", console_public_url="http://console.example.com")
    with pytest.raises(RuntimeError) as refused:
        settings.check_production()
    assert "CONSOLE_CLIENT_SECRET" in str(refused.value) and "CONSOLE_PUBLIC_URL must be https" in str(refused.value)

    secure = ConsoleSettings(
        environment="production",
        console_public_url="https://console.example.com",
        console_client_secret=SecretStr("s" * 40),
    )
    assert secure.secure_cookies and secure.redirect_uri == "https://console.example.com/auth/callback"
    with pytest.raises(RuntimeError) as kit:  # the kit's own checks still run (the local issuer, ...)
        secure.check_production()
    assert "CONSOLE_" not in str(kit.value)
