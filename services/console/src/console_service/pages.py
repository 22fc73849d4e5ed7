"""Server-rendered pages: Jinja2 templates (templates/) with autoescaping, answered as HTML."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import MediaType, Response

TEMPLATES = Environment(
    loader=PackageLoader("console_service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

ROLE_NAMES = {
    "reception": "Reception",
    "dispatcher": "Dispatcher",
    "engineer": "Engineer",
    "inspector": "Inspector",
    "manager": "Manager",
    "admin": "Admin",
    "customer": "Customer",
}


def render_fragment(template: str, **context: Any) -> str:
    return TEMPLATES.get_template(template).render(**context)


def page(template: str, *, status_code: int = 200, **context: Any) -> Response[str]:
    """The page `template` as HTML; never cached (it names the signed-in person)."""
    return Response(
        render_fragment(template, role_names=ROLE_NAMES, **context),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
