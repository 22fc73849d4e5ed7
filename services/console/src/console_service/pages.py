"""Server-rendered pages: Jinja2 templates (templates/) with autoescaping, answered as HTML."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import MediaType, Request, Response

from console_service.assets import asset_url

TEMPLATES = Environment(
    loader=PackageLoader("console_service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Static files by their content hash: {{ asset_url('signature.js') }}.
TEMPLATES.globals["asset_url"] = asset_url

ROLE_NAMES = {
    "reception": "Reception",
    "dispatcher": "Dispatcher",
    "engineer": "Engineer",
    "inspector": "Inspector",
    "manager": "Manager",
    "admin": "Admin",
    "customer": "Customer",
}


# The console's places, each for the roles that may open it (the page's own guard is what enforces it;
# the menu only spares people links that would answer 403).
NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/", "Job board", frozenset({"dispatcher", "manager", "admin", "reception", "inspector"})),
    ("/reception", "Take a call", frozenset({"reception", "manager", "admin"})),
    ("/reception/callbacks", "Call-backs", frozenset({"reception", "manager", "admin"})),
    ("/dispatch", "Unassigned", frozenset({"dispatcher"})),
    ("/dispatch/schedule", "Schedule", frozenset({"dispatcher", "manager", "admin"})),
    ("/field", "My jobs", frozenset({"engineer"})),
    ("/inspections", "Inspections", frozenset({"inspector"})),
    ("/manager", "Dashboard", frozenset({"manager", "admin"})),
    ("/manager/plans", "Plans to approve", frozenset({"manager"})),
    ("/manager/reports", "Reports", frozenset({"manager", "admin"})),
    ("/manager/reviews", "Reviews", frozenset({"manager", "engineer"})),
    ("/admin/dead-letters", "Dead letters", frozenset({"admin"})),
)


def nav_for(session: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not session:
        return []
    roles = set(session.get("roles") or ())
    return [(path, label) for path, label, allowed in NAV if roles & allowed]


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
            role_names=ROLE_NAMES,
            nav=nav_for(context.get("session")),
            **context,
        ),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
