"""Calls to the services (their answers as the pages see them) and forms that act once, against the real
MongoDB for the form keys."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
from console_service import forms
from console_service.calls import Answer, answer_of
from pymongo import AsyncMongoClient


def _response(status: int, body: Any, content_type: str = "application/problem+json") -> httpx.Response:
    return httpx.Response(status, json=body, headers={"content-type": content_type})


def test_a_refusal_names_its_fields_and_its_message():
    answer = answer_of(
        "intake",
        _response(
            422,
            {
                "title": "Unprocessable request",
                "detail": "the request is not valid",
                "errors": [
                    {"field": "body.fault_description", "message": "describe the fault"},
                    {"field": "customer_id", "message": "no such customer"},
                    {"field": "customer_id", "message": "a second message is not shown"},
                ],
            },
        ),
    )
    assert answer.refused and not answer.ok and not answer.unavailable
    assert answer.errors == {"fault_description": "describe the fault", "customer_id": "no such customer"}
    assert answer.message == "the request is not valid"


def test_success_carries_the_json_and_a_server_error_is_unavailable():
    assert answer_of("dispatch", _response(201, {"job_id": "J"}, "application/json")).data == {"job_id": "J"}
    down = answer_of("dispatch", httpx.Response(503, text="down"))
    assert down.unavailable and "Dispatch is unavailable" in (down.message or "")
    assert answer_of("dispatch", httpx.Response(403, text="<html>")).message == "Forbidden"


async def test_a_form_key_acts_once_even_for_a_double_click_and_a_refusal_frees_it(test_settings):
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(test_settings.mongodb_url.get_secret_value())
    try:
        runtime: Any = SimpleNamespace(db=client[test_settings.mongodb_database])
        session = {"subject": "STAFF-REC-1"}
        acted: list[int] = []

        async def act() -> tuple[Answer, str | None]:
            acted.append(1)
            await asyncio.sleep(0.2)
            return Answer("intake", 201, data={"job_id": "J1"}), "/jobs/J1"

        key = forms.new_form_key()
        first, second = await asyncio.gather(
            forms.once(runtime, session, key, act), forms.once(runtime, session, key, act)
        )
        assert len(acted) == 1
        assert {first.repeated, second.repeated} == {False, True}
        assert first.redirect == second.redirect == "/jobs/J1"
        later = await forms.once(runtime, session, key, act)
        assert later.repeated and later.redirect == "/jobs/J1" and len(acted) == 1

        refused_key = forms.new_form_key()

        async def refused() -> tuple[Answer, str | None]:
            acted.append(1)
            return Answer("intake", 422, message="describe the fault", errors={"fault_description": "x"}), None

        outcome = await forms.once(runtime, session, refused_key, refused)
        assert outcome.answer is not None and outcome.answer.refused and outcome.redirect is None
        again = await forms.once(runtime, session, refused_key, act)
        assert not again.repeated and again.redirect == "/jobs/J1", "a refused form can be corrected and sent"
    finally:
        await client.close()
