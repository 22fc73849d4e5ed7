"""The admin's dead letters (`/admin/dead-letters`): every service's dead letters with why they failed,
read from each service's own `GET /dead-letters`, and a replay after the fix (`POST /dead-letters/replay`
on that service with the chosen event ids), confirmed with how many went back to their queues.

A service that cannot be reached shows as unavailable while the others show their dead letters.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from compressor_contracts import StaffRole
from console_service.admin import domain
from console_service.calls import Answer, call
from console_service.forms import new_form_key, once
from console_service.pages import page
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import _

ADMIN = (StaffRole.ADMIN,)
PATH = "/admin/dead-letters"


async def _listings(runtime: ConsoleRuntime, session: dict[str, Any]) -> dict[str, Answer]:
    answers = await asyncio.gather(
        *(
            call(runtime, session, service, "GET", "/dead-letters", params={"limit": domain.LISTED})
            for service in domain.SERVICES
        )
    )
    return dict(zip(domain.SERVICES, answers, strict=True))


async def _render(
    runtime: ConsoleRuntime,
    session: dict[str, Any],
    *,
    confirmation: domain.Confirmation | None = None,
    failed: str | None = None,
    message: str | None = None,
    unavailable: bool = False,
    chosen: list[str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    listings = await _listings(runtime, session)
    return page(
        "admin_dead_letters.html",
        status_code=status_code,
        session=session,
        current_path=PATH,
        services=domain.SERVICES,
        listings=listings,
        total=sum(
            len(a.data.get("dead_letters") or []) for a in listings.values() if a.ok and isinstance(a.data, dict)
        ),
        confirmation=confirmation,
        failed=failed,
        message=message,
        unavailable=unavailable,
        chosen=set(chosen or ()),
        form_keys={service: new_form_key() for service in domain.SERVICES},
    )


@get(PATH, **pages(*ADMIN))
async def dead_letters(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    service: FromQuery[str | None] = None,
    replayed: FromQuery[str | None] = None,
    skipped: FromQuery[str | None] = None,
    not_found: FromQuery[str | None] = None,
    reason: FromQuery[str | None] = None,
) -> Response[str]:
    """Every service's dead letters with their reasons; after a replay, how many went back."""
    query = {"service": service, "replayed": replayed, "skipped": skipped, "not_found": not_found, "reason": reason}
    return await _render(runtime, session_of(request), confirmation=domain.confirmation_of(query))


@post(f"{PATH}/{{service:str}}/replay", **pages(*ADMIN))
async def replay(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], service: FromPath[str]
) -> Response[Any]:
    """The chosen dead letters of `service` (or all of them) back to the queues that failed them."""
    session = session_of(request)
    if service not in domain.SERVICES:
        return page(
            "message.html",
            status_code=404,
            session=session,
            title=_("No such service"),
            message=_("There is no service “%(service)s” with dead letters.", service=service),
        )
    form = await request.form()
    event_ids = [str(v) for v in form.getall("event_id", []) if isinstance(v, str)]
    choice = domain.choice(event_ids, replay_all=form.get("all") == "true")
    if choice.body is None:
        return await _render(runtime, session, failed=service, message=choice.error, chosen=event_ids, status_code=422)
    target = next(known for known in domain.SERVICES if known == service)
    body = choice.body

    async def act() -> tuple[Answer, str | None]:
        answer = await call(runtime, session, target, "POST", "/dead-letters/replay", json=body)
        return answer, domain.confirmation_url(service, answer.data) if answer.ok else None

    outcome = await once(runtime, session, form.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or PATH, status_code=303)
    answer = outcome.answer
    return await _render(
        runtime,
        session,
        failed=service,
        message=answer.errors.get("event_ids") or answer.message,
        unavailable=answer.unavailable,
        chosen=event_ids,
        status_code=422 if answer.status in (409, 422) else (503 if answer.unavailable else answer.status),
    )


ROUTES: list[Any] = [dead_letters, replay]
