"""The console's Content-Security-Policy: its own origin, the object store and the provider, nothing else."""

from __future__ import annotations

from console_service.security import content_security_policy

from compressor_kit.settings import Settings


def directives(policy: str) -> dict[str, set[str]]:
    return {name: set(values) for name, *values in (part.split() for part in policy.split("; "))}


def test_scripts_and_styles_come_only_from_the_console_itself():
    policy = directives(content_security_policy(Settings()))
    assert policy["script-src"] == {"'self'"} and policy["style-src"] == {"'self'"}
    assert "'unsafe-inline'" not in set().union(*policy.values())
    assert policy["frame-ancestors"] == {"'none'"} and policy["object-src"] == {"'none'"}


def test_the_browser_may_talk_to_the_object_store_and_end_forms_at_the_provider():
    settings = Settings(s3_endpoint="objects.example.my", s3_secure=True, oidc_issuer="https://id.example.my/realms/x")
    policy = directives(content_security_policy(settings))
    assert policy["connect-src"] == {"'self'", "https://objects.example.my"}  # presigned photo uploads
    assert "https://objects.example.my" in policy["img-src"]
    assert policy["form-action"] == {"'self'", "https://id.example.my"}  # sign-out ends at the provider
