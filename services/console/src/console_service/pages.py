"""Server-rendered pages: Jinja2 templates (templates/) with autoescaping, answered as HTML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import MediaType, Request, Response

from compressor_contracts.common import Language
from compressor_kit.i18n import current_language
from console_service.assets import asset_url
from console_service.board.domain import phase_label
from console_service.field.domain import FAILURE_CATEGORY_NAMES
from console_service.languages import LANGUAGE_NAMES, SWITCH_LABELS, language_switch
from console_service.texts import N_, TEXTS, _
from console_service.times import FILTERS as TIME_FILTERS

TEMPLATES = Environment(
    loader=PackageLoader("console_service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Static files by their content hash: {{ asset_url('signature.js') }}.
TEMPLATES.globals["asset_url"] = asset_url
# `_()`, `{% trans %}`, `current_language()` and the `date`/`datetime`/`number` filters, in the reader's language.
TEXTS.install(TEMPLATES)
TEMPLATES.filters.update(TIME_FILTERS)  # local_date, local_datetime...: Malaysian time

ROLE_NAMES = {
    "reception": N_("Reception"),
    "dispatcher": N_("Dispatcher"),
    "engineer": N_("Engineer"),
    "inspector": N_("Inspector"),
    "manager": N_("Manager"),
    "admin": N_("Admin"),
    "customer": N_("Customer"),
}


# The console's places, each for the roles that may open it (the page's own guard is what enforces it;
# the menu only spares people links that would answer 403).
NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/", N_("Job board"), frozenset({"dispatcher", "manager", "admin", "reception", "inspector"})),
    ("/reception", N_("Take a call"), frozenset({"reception", "manager", "admin"})),
    ("/reception/callbacks", N_("Call-backs"), frozenset({"reception", "manager", "admin"})),
    ("/reception/fault-reports", N_("Fault reports"), frozenset({"reception", "manager", "admin"})),
    ("/dispatch", N_("Unassigned"), frozenset({"dispatcher"})),
    ("/dispatch/schedule", N_("Schedule"), frozenset({"dispatcher", "manager", "admin"})),
    ("/field", N_("My jobs"), frozenset({"engineer"})),
    ("/inspections", N_("Inspections"), frozenset({"inspector"})),
    ("/manager", N_("Dashboard"), frozenset({"manager", "admin"})),
    ("/manager/plans", N_("Plans to approve"), frozenset({"manager"})),
    ("/manager/reports", N_("Reports"), frozenset({"manager", "admin"})),
    ("/manager/reviews", N_("Reviews"), frozenset({"manager", "engineer"})),
    ("/admin/dead-letters", N_("Dead letters"), frozenset({"admin"})),
    # The customer portal (portal/): a customer's own jobs, a new request, their machines and reports.
    ("/portal", N_("My service jobs"), frozenset({"customer"})),
    ("/portal/requests/new", N_("Request service"), frozenset({"customer"})),
    ("/portal/equipment", N_("My machines"), frozenset({"customer"})),
    ("/portal/reports", N_("Reports"), frozenset({"customer"})),
)


def nav_for(session: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not session:
        return []
    roles = set(session.get("roles") or ())
    return [(path, _(label)) for path, label, allowed in NAV if roles & allowed]


# Words the services send as codes, as people read them.
PRIORITY_NAMES = {"critical": N_("Critical"), "high": N_("High"), "normal": N_("Normal"), "low": N_("Low")}


def priority_name(priority: object) -> str:
    """A priority code ("high") in the reader's language; anything else as it is."""
    name = PRIORITY_NAMES.get(str(priority))
    return _(name) if name else str(priority or "")


# Status codes shown as words (a job's, a plan's, an inspection's...).
STATUS_NAMES = {
    "open": N_("open"),
    "closed": N_("closed"),
    "cancelled": N_("cancelled"),
    "unassigned": N_("unassigned"),
    "assigned": N_("assigned"),
    "prediagnosed": N_("pre-diagnosed"),
    "dispatched": N_("on the way"),
    "on_site": N_("on site"),
    "resolved": N_("resolved"),
    "pending": N_("pending"),
    "diagnosed": N_("diagnosed"),
    "plan_proposed": N_("plan proposed"),
    "waiting_for_parts": N_("waiting for parts"),
    "plan_rejected": N_("plan rejected"),
    "plan_approved": N_("plan approved"),
    "in_progress": N_("in progress"),
    "awaiting_inspection": N_("awaiting inspection"),
    "rework": N_("rework"),
    "completed": N_("completed"),
    "proposed": N_("proposed"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "superseded": N_("superseded"),
    "ready": N_("ready"),
    "automatic": N_("automatic"),
    "manual": N_("manual"),
    "answered": N_("answered"),
    "expired": N_("expired"),
    "passed": N_("passed"),
    "failed": N_("failed"),
}


def status_name(status: object) -> str:
    """A status code ("closed") as a word in the reader's language; an unknown one with its underscores as spaces."""
    name = STATUS_NAMES.get(str(status))
    return _(name) if name else str(status or "").replace("_", " ")


CHANNEL_NAMES = {"email": N_("E-mail"), "webhook": N_("Webhook"), "phone": N_("Phone call"), "portal": N_("Portal")}


def channel_name(channel: object) -> str:
    """A notification or request channel code ("email") in the reader's language."""
    name = CHANNEL_NAMES.get(str(channel))
    return _(name) if name else str(channel or "")


def failure_category_name(category: object) -> str:
    """A failure category code ("air_end") in the reader's language."""
    name = FAILURE_CATEGORY_NAMES.get(str(category))
    return _(name) if name else str(category or "").replace("_", " ")


def labelled(options: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(value, label) pairs whose labels were marked with `N_`, with the labels in the reader's language."""
    return [(value, _(label)) for value, label in options]


def localized(item: Mapping[str, Any] | None, field: str) -> str:
    """`item[field]`, or its Malay version `item[field + "_ms"]` when the reader reads Malay and it has one
    (plan steps, inspection indicators...: the seed's texts come in both languages)."""
    if not item:
        return ""
    if current_language() is Language.MS and item.get(f"{field}_ms"):
        return str(item[f"{field}_ms"])
    value = item.get(field)
    return "" if value is None else str(value)


def translated(names: Mapping[str, str]) -> dict[str, str]:
    """code → label (labels marked with `N_`), with the labels in the reader's language."""
    return {code: _(label) for code, label in names.items()}


def role_names() -> dict[str, str]:
    """Each role's name in the reader's language."""
    return {role: _(name) for role, name in ROLE_NAMES.items()}


TEMPLATES.globals.update(
    priority_name=priority_name,
    status_name=status_name,
    localized=localized,
    failure_category_name=failure_category_name,
    phase_label=phase_label,
    channel_name=channel_name,
    language_switch=language_switch,
    language_names=LANGUAGE_NAMES,
    switch_labels=SWITCH_LABELS,
)


async def form_values(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form as field → text (the last value of a repeated field), without the CSRF token."""
    form = await request.form()
    return {name: str(value) for name, value in form.items() if name != "csrf_token" and isinstance(value, str)}


def render_fragment(template_name: str, /, **context: Any) -> str:
    return TEMPLATES.get_template(template_name).render(**context)


def page(template_name: str, /, *, status_code: int = 200, **context: Any) -> Response[str]:
    """The page `template_name` as HTML; never cached (it names the signed-in person)."""
    return Response(
        render_fragment(
            template_name,
            role_names=role_names(),
            nav=nav_for(context.get("session")),
            **context,
        ),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
