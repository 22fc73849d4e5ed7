"""Calls from the console to the owning services, always with the signed-in person's own access token.

The console never holds a token of its own with more rights: every action passes the same role and
ownership checks as the API. A service's answer comes back as an `Answer`: its JSON on success; its
refusal (RFC 9457 problem+json) as a message and the fields it names, for the page to show beside
the inputs; or `unavailable` when the service cannot be reached or fails (5xx), so that only its own
pages say so while the rest of the console goes on working.

    answer = await call(runtime, session, "intake", "POST", "/requests", json=body, idempotency_key=key)
    if answer.ok: ...
    else: page(..., errors=answer.errors, message=answer.message)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import quote

import httpx

from console_service.settings import ConsoleRuntime
from console_service.texts import _

Service = Literal["intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry"]
# A JSON body as sent to a service: what `json.dumps` writes.
JSON: TypeAlias = Mapping[str, "JSON"] | Sequence["JSON"] | str | int | float | bool | None
CALL_TIMEOUT = 8.0
# English only: for pages that add their own service name (prefer `unavailable(service)`).
UNAVAILABLE = "is unavailable just now; the rest of the console works. Try again in a minute."


@dataclass(frozen=True)
class Answer:
    """What a service said. `errors` maps a field name (the API's, dotted for nested ones) to its message."""

    service: str
    status: int
    data: Any = None
    message: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unavailable(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def refused(self) -> bool:
        return 400 <= self.status < 500

    def error(self, name: str) -> str | None:
        return self.errors.get(name)


def unavailable(service: str) -> str:
    """What a page says when `service` cannot answer, in the reader's language."""
    return _(
        "%(service)s is unavailable just now; the rest of the console works. Try again in a minute.",
        service=service.capitalize(),
    )


def segment(value: str) -> str:
    """One path segment, escaped: ids typed into a URL never change the path."""
    return quote(value, safe="")


def base_url(runtime: ConsoleRuntime, service: Service) -> str:
    url: str = getattr(runtime.settings, f"{service}_url")
    return url.rstrip("/")


def _field_name(raw: object) -> str | None:
    if not isinstance(raw, str) or not raw:
        return None
    # Litestar names body fields "body.x" or "x"; the console's inputs carry the API's own names.
    return raw.removeprefix("body.").removeprefix("data.")


def answer_of(service: str, response: httpx.Response) -> Answer:
    """A service's HTTP answer as an `Answer` (pure: no I/O)."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = response.text
        return Answer(service, status, data=data)
    if status >= 500:
        return Answer(service, status, message=unavailable(service))
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    errors: dict[str, str] = {}
    for item in problem.get("errors") or []:
        if isinstance(item, dict):
            name = _field_name(item.get("field"))
            if name and name not in errors:
                errors[name] = str(item.get("message") or problem.get("detail") or "refused")
    message = str(problem.get("detail") or problem.get("title") or response.reason_phrase or f"HTTP {status}")
    return Answer(service, status, data=problem, message=message, errors=errors)


async def call(
    runtime: ConsoleRuntime,
    session: dict[str, Any],
    service: Service,
    method: str,
    path: str,
    *,
    json: JSON = None,
    params: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    timeout: float = CALL_TIMEOUT,
) -> Answer:
    """`method path` on `service` as the signed-in person; never raises for what the service answers."""
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    clean_params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    try:
        response = await runtime.http.request(
            method,
            base_url(runtime, service) + path,
            headers=headers,
            json=json,
            params=clean_params or None,
            timeout=timeout,
        )
    except httpx.HTTPError:
        return Answer(service, 0, message=unavailable(service))
    return answer_of(service, response)
