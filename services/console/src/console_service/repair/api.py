"""The engineer's repair on a phone: the plan (phase 4), the work rounds step by step (phase 5, and the
rework rounds of phase 6), the review memo (phase 9); and the manager's list of plans awaiting the
customer's decision, for a decision the customer gives by phone.

Every page reads and acts through maintenance's and feedback's APIs with the signed-in person's own
token: the engineer sees and changes only the work orders assigned to them, as the API allows.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from compressor_contracts import StaffRole
from compressor_kit.refusals import Refusal
from console_service.calls import Answer, call, segment
from console_service.forms import new_form_key as _new_form_key
from console_service.forms import once
from console_service.pages import form_values, labelled, page, translated
from console_service.repair import domain
from console_service.sessions.guard import pages, session_of
from console_service.settings import ConsoleRuntime
from console_service.texts import _

Session = dict[str, Any]
PLAN_APPROVERS = (StaffRole.MANAGER,)  # the API lets the customer or a manager decide; an admin cannot


def new_form_key() -> str:
    return _new_form_key()


def _order_path(job_id: str, tail: str = "") -> str:
    return f"/work-orders/{segment(job_id)}{tail}"


def _field_path(job_id: str, tail: str) -> str:
    return f"/field/jobs/{segment(job_id)}/{tail}"


def _refusal_status(answer: Answer) -> int:
    if answer.unavailable:
        return 503
    return 422 if answer.status in (400, 409, 422) else answer.status


def _remap(errors: dict[str, str], prefix: str, rows: list[int]) -> dict[str, str]:
    """The API names list items by their index in what was sent; the form by its row."""
    fixed: dict[str, str] = {}
    for name, message in errors.items():
        head, _dot, rest = name.partition(".")
        index, _dot, tail = rest.partition(".")
        if head == prefix and index.isdigit() and int(index) < len(rows):
            name = f"{prefix}.{rows[int(index)]}" + (f".{tail}" if tail else "")
        fixed[name] = message
    return fixed


def _problem(error: Refusal) -> Answer:
    errors = {error.field: error.detail} if error.field else {}
    return Answer("console", 422, message=_("Check the form: %(reason)s", reason=error.detail), errors=errors)


async def _stock(runtime: ConsoleRuntime, session: Session) -> tuple[dict[str, dict[str, Any]], Answer]:
    answer = await call(runtime, session, "maintenance", "GET", "/parts", params={"limit": 200})
    items = answer.data.get("items", []) if answer.ok and isinstance(answer.data, dict) else []
    return {part["part_number"]: part for part in items}, answer


# --- the plan (phase 4) ------------------------------------------------------------------------


async def _plan_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    procedure_id: str | None,
    *,
    values: dict[str, str] | None = None,
    answer: Answer | None = None,
    notice: str | None = None,
) -> Response[str]:
    session = session_of(request)
    order = await call(runtime, session, "maintenance", "GET", _order_path(job_id))
    procedures: list[dict[str, Any]] = []
    stock: dict[str, dict[str, Any]] = {}
    chosen = None
    if order.ok and order.data.get("status") in domain.PROPOSABLE:
        listed = await call(runtime, session, "maintenance", "GET", _order_path(job_id, "/procedures"))
        procedures = listed.data if listed.ok and isinstance(listed.data, list) else []
        stock, _failed = await _stock(runtime, session)
        wanted = procedure_id or (values or {}).get("procedure_id")
        chosen = next((p for p in procedures if p["procedure_id"] == wanted), procedures[0] if procedures else None)
        if chosen is None and wanted:  # not in the list: let maintenance say why
            found = await call(runtime, session, "maintenance", "GET", f"/procedures/{segment(wanted)}")
            chosen = found.data if found.ok else None
    status = 200 if order.ok else (order.status if order.refused else 503)
    if answer is not None and not answer.ok:
        status = _refusal_status(answer)
    return page(
        "repair_plan.html",
        status_code=status,
        session=session,
        current_path="/field",
        job_id=job_id,
        order=order,
        procedures=procedures,
        procedure=chosen,
        stock=stock,
        catalogue=sorted(stock.values(), key=lambda p: p["part_number"]),
        values=values or {},
        errors=answer.errors if answer else {},
        message=answer.message if answer and not answer.ok else None,
        unavailable=bool(answer and answer.unavailable),
        notice=notice,
        form_key=new_form_key(),
        plan_states=translated(domain.PLAN_STATES),
        status_names=translated(domain.STATUS_NAMES),
        limits=domain,
    )


@get("/field/jobs/{job_id:str}/plan", **pages(StaffRole.ENGINEER))
async def plan_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    procedure: FromQuery[str | None] = None,
    proposed: FromQuery[int | None] = None,
) -> Response[str]:
    """The job's plans (each revision's state, the customer's comments) and, while a plan may be
    proposed, the form built from the chosen manufacturer's procedure, with the parts' stock."""
    notice = (
        _("Plan revision %(revision)s proposed: the customer is asked to approve it.", revision=proposed)
        if proposed
        else None
    )
    return await _plan_page(request, runtime, job_id, procedure, notice=notice)


@post("/field/jobs/{job_id:str}/plan", **pages(StaffRole.ENGINEER))
async def propose_plan(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """Propose the plan (or a revision) as the form sets it out."""
    session = session_of(request)
    form = await form_values(request)
    listed = await call(runtime, session, "maintenance", "GET", _order_path(job_id, "/procedures"))
    procedures = listed.data if listed.ok and isinstance(listed.data, list) else []
    procedure = next((p for p in procedures if p["procedure_id"] == form.get("procedure_id")), None)
    if procedure is None and not listed.ok:
        return await _plan_page(request, runtime, job_id, None, values=form, answer=listed)
    try:
        body = domain.plan_draft(form, procedure or {"steps": [], "parts": []})
    except Refusal as error:
        return await _plan_page(request, runtime, job_id, None, values=form, answer=_problem(error))
    rows = [i for i in range(len(form)) if form.get(f"parts.{i}.part_number") and _nonzero(form, f"parts.{i}.quantity")]

    async def act() -> tuple[Answer, str | None]:
        answer = await call(runtime, session, "maintenance", "POST", _order_path(job_id, "/plans"), json=body)
        revision = len(answer.data.get("plans", [])) if answer.ok else 0
        return answer, _field_path(job_id, f"plan?proposed={revision}")

    outcome = await once(runtime, session, form.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or _field_path(job_id, "plan"), status_code=303)
    refused = outcome.answer
    errors = _remap(refused.errors, "parts", rows)
    answer = Answer(refused.service, refused.status, refused.data, refused.message, errors)
    return await _plan_page(request, runtime, job_id, None, values=form, answer=answer)


def _nonzero(form: dict[str, str], name: str) -> bool:
    try:
        return float(form.get(name) or 0) != 0
    except ValueError:
        return True


# --- the manager's decisions on plans ----------------------------------------------------------


async def _plans_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    *,
    acted: str | None = None,
    values: dict[str, str] | None = None,
    answer: Answer | None = None,
    notice: str | None = None,
) -> Response[str]:
    session = session_of(request)
    waiting: list[dict[str, Any]] = []
    problem: Answer | None = None
    for status in domain.AWAITING_DECISION:
        listed = await call(
            runtime, session, "maintenance", "GET", "/work-orders", params={"status": status, "limit": 200}
        )
        if not listed.ok:
            problem = listed
            continue
        for order in listed.data.get("items", []):
            plan = domain.awaiting(order)
            if plan is not None:
                waiting.append({"order": order, "plan": plan})
    waiting.sort(key=lambda item: item["plan"].get("proposed_at") or "")
    status_code = _refusal_status(answer) if answer is not None and not answer.ok else 200
    return page(
        "repair_plans.html",
        status_code=status_code,
        session=session,
        current_path="/manager/plans",
        waiting=waiting,
        problem=problem,
        acted=acted,
        values=values or {},
        errors=answer.errors if answer else {},
        message=answer.message if answer and not answer.ok else None,
        unavailable=bool(answer and answer.unavailable),
        notice=notice,
        new_form_key=new_form_key,
        may_decide=StaffRole.MANAGER in session.get("roles", ()),
        limits=domain,
    )


@get("/manager/plans", **pages(*PLAN_APPROVERS))
async def plans_awaiting(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    decided: FromQuery[str | None] = None,
    outcome: FromQuery[str | None] = None,
) -> Response[str]:
    """Plans awaiting the customer's decision, oldest first, each with approve and reject forms (a manager
    records the decision the customer gave by phone)."""
    notice = None
    if decided and outcome in ("approved", "rejected"):
        if outcome == "approved":
            notice = _("The plan of %(job)s is approved; its parts are reserved.", job=decided)
        else:
            notice = _("The plan of %(job)s is rejected; the engineer proposes a revision.", job=decided)
    return await _plans_page(request, runtime, notice=notice)


@post("/manager/plans", **pages(*PLAN_APPROVERS))
async def decide_plan(request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime]) -> Response[Any]:
    """Approve or reject one plan revision on the customer's behalf."""
    session = session_of(request)
    form = await form_values(request)
    job_id, decision = form.get("job_id", ""), form.get("decision", "")
    acted = f"{job_id}:{form.get('revision', '')}"
    try:
        revision = int(form.get("revision", ""))
        if decision not in ("approve", "reject") or not job_id:
            raise Refusal.invalid(_("Approve or reject a plan from the list."), field="decision")
        body = domain.decision_body(form, reject=decision == "reject")
    except ValueError:
        return await _plans_page(
            request,
            runtime,
            acted=acted,
            values=form,
            answer=_problem(Refusal.invalid(_("Unknown plan revision."), field="revision")),
        )
    except Refusal as error:
        return await _plans_page(request, runtime, acted=acted, values=form, answer=_problem(error))

    async def act() -> tuple[Answer, str | None]:
        path = _order_path(job_id, f"/plans/{revision}/{decision}")
        answer = await call(runtime, session, "maintenance", "POST", path, json=body)
        done = "approved" if decision == "approve" else "rejected"
        return answer, f"/manager/plans?decided={segment(job_id)}&outcome={done}"

    outcome = await once(runtime, session, form.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or "/manager/plans", status_code=303)
    return await _plans_page(request, runtime, acted=acted, values=form, answer=outcome.answer)


# --- the work rounds (phase 5, rework in phase 6) ----------------------------------------------


async def _work_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    *,
    values: dict[str, str] | None = None,
    answer: Answer | None = None,
    acted: str | None = None,
) -> Response[str]:
    session = session_of(request)
    order = await call(runtime, session, "maintenance", "GET", _order_path(job_id))
    work = None
    rows: list[domain.StepRow] = []
    planned: list[dict[str, Any]] = []
    catalogue: list[dict[str, Any]] = []
    if order.ok:
        rounds = order.data.get("rounds") or []
        work = rounds[-1] if rounds else None
        if work is not None:
            rows = domain.checklist(work)
        approved = next((p for p in reversed(order.data.get("plans") or []) if p.get("status") == "approved"), None)
        planned = approved["parts"] if approved else []
        if work is not None and work.get("status") == "in_progress" and not order.data.get("next_step"):
            stock, _failed = await _stock(runtime, session)
            catalogue = sorted(stock.values(), key=lambda p: p["part_number"])
    status = 200 if order.ok else (order.status if order.refused else 503)
    if answer is not None and not answer.ok:
        status = _refusal_status(answer)
    return page(
        "repair_work.html",
        status_code=status,
        session=session,
        current_path="/field",
        job_id=job_id,
        order=order,
        work=work,
        earlier=(order.data.get("rounds") or [])[:-1] if order.ok else [],
        rows=rows,
        planned=planned,
        catalogue=catalogue,
        values=values or {},
        errors=answer.errors if answer else {},
        message=answer.message if answer and not answer.ok else None,
        unavailable=bool(answer and answer.unavailable),
        acted=acted,
        form_key=new_form_key(),
        status_names=translated(domain.STATUS_NAMES),
        limits=domain,
    )


@get("/field/jobs/{job_id:str}/work", **pages(StaffRole.ENGINEER))
async def work_page(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[str]:
    """The current round: start it, then its steps in order (the next one actionable, each with the
    message the customer receives), then the parts used and hours; earlier rounds below."""
    return await _work_page(request, runtime, job_id)


@post("/field/jobs/{job_id:str}/work", **pages(StaffRole.ENGINEER))
async def work_action(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """Start the round, complete or skip the next step, or complete the round."""
    session = session_of(request)
    form = await form_values(request)
    action = form.get("action", "")
    here = _field_path(job_id, "work")
    rows: list[int] = []
    body: dict[str, Any] | None
    try:
        if action == "start":
            path, body = _order_path(job_id, "/work/start"), None
        elif action in ("step", "skip"):
            sequence = int(form.get("sequence", ""))
            if action == "step":
                note = (form.get("note") or "").strip()
                if len(note) > domain.TEXT_MAX:
                    raise Refusal.invalid(_("At most %(count)d characters.", count=domain.TEXT_MAX), field="note")
                path, body = _order_path(job_id, f"/steps/{sequence}/complete"), ({"note": note} if note else None)
            else:
                reason = (form.get("reason") or "").strip()
                if not reason:
                    raise Refusal.invalid(_("Say why the step is skipped."), field="reason")
                if len(reason) > domain.TEXT_MAX:
                    raise Refusal.invalid(_("At most %(count)d characters.", count=domain.TEXT_MAX), field="reason")
                path, body = _order_path(job_id, f"/steps/{sequence}/skip"), {"reason": reason}
        elif action == "complete":
            order = await call(runtime, session, "maintenance", "GET", _order_path(job_id))
            plans = order.data.get("plans", []) if order.ok else []
            approved = next((p for p in reversed(plans) if p.get("status") == "approved"), None)
            completion = domain.completion_body(form, approved["parts"] if approved else [])
            sent = [line["part_number"] for line in completion["parts_used"]]
            rows = [
                next(i for i in range(len(form)) if form.get(f"parts_used.{i}.part_number") == number)
                for number in sent
            ]
            path, body = _order_path(job_id, "/work/complete"), completion
        else:
            raise Refusal.invalid(_("Choose what to do from the page."), field="action")
    except ValueError:
        return await _work_page(
            request,
            runtime,
            job_id,
            values=form,
            answer=_problem(Refusal.invalid(_("Unknown step."), field="sequence")),
            acted=action,
        )
    except Refusal as error:
        return await _work_page(request, runtime, job_id, values=form, answer=_problem(error), acted=action)

    async def act() -> tuple[Answer, str | None]:
        return await call(runtime, session, "maintenance", "POST", path, json=body), here

    outcome = await once(runtime, session, form.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or here, status_code=303)
    refused = outcome.answer
    answer = Answer(
        refused.service, refused.status, refused.data, refused.message, _remap(refused.errors, "parts_used", rows)
    )
    return await _work_page(request, runtime, job_id, values=form, answer=answer, acted=action)


# --- the review memo (phase 9) -----------------------------------------------------------------


async def _review_page(
    request: Request[Any, Any, Any],
    runtime: ConsoleRuntime,
    job_id: str,
    *,
    values: dict[str, str] | None = None,
    answer: Answer | None = None,
    notice: str | None = None,
) -> Response[str]:
    session = session_of(request)
    feedback = await call(runtime, session, "feedback", "GET", f"/jobs/{segment(job_id)}/feedback")
    status = 200 if feedback.ok or feedback.status == 404 else (feedback.status if feedback.refused else 503)
    if answer is not None and not answer.ok:
        status = _refusal_status(answer)
    return page(
        "repair_review.html",
        status_code=status,
        session=session,
        current_path="/field",
        job_id=job_id,
        feedback=feedback,
        review=feedback.data.get("review") if feedback.ok else None,
        values=values or {},
        errors=domain.lesson_errors(answer.errors) if answer else {},
        message=answer.message if answer and not answer.ok else None,
        unavailable=bool(answer and answer.unavailable),
        notice=notice,
        form_key=new_form_key(),
        kinds=labelled(domain.FOLLOW_UP_KINDS),
        limits=domain,
    )


@get("/field/jobs/{job_id:str}/review", **pages(StaffRole.ENGINEER))
async def review_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[ConsoleRuntime],
    job_id: FromPath[str],
    recorded: FromQuery[str | None] = None,
) -> Response[str]:
    """The job's review memo once written; until then the form (memo, lessons, a follow-up)."""
    notice = _("Review recorded.") if recorded else None
    return await _review_page(request, runtime, job_id, notice=notice)


@post("/field/jobs/{job_id:str}/review", **pages(StaffRole.ENGINEER))
async def write_review(
    request: Request[Any, Any, Any], runtime: NamedDependency[ConsoleRuntime], job_id: FromPath[str]
) -> Response[Any]:
    """Record the review memo (once per job)."""
    session = session_of(request)
    form = await form_values(request)
    try:
        body = domain.review_body(form)
    except Refusal as error:
        return await _review_page(request, runtime, job_id, values=form, answer=_problem(error))

    async def act() -> tuple[Answer, str | None]:
        answer = await call(runtime, session, "feedback", "POST", f"/jobs/{segment(job_id)}/review", json=body)
        return answer, _field_path(job_id, "review?recorded=1")

    outcome = await once(runtime, session, form.get("form_key"), act)
    if outcome.answer is None or outcome.answer.ok:
        return Redirect(outcome.redirect or _field_path(job_id, "review"), status_code=303)
    return await _review_page(request, runtime, job_id, values=form, answer=outcome.answer)


ROUTES: list[Any] = [
    plan_page,
    propose_plan,
    plans_awaiting,
    decide_plan,
    work_page,
    work_action,
    review_page,
    write_review,
]
