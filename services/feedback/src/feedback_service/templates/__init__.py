"""Message and page templates (Jinja2 files in this folder), rendered with the job's real details."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

HERE = Path(__file__).parent


def _when(value: object) -> str:
    """'2026-03-03T14:00:00Z' -> '3 Mar 2026, 14:00 UTC' (times travel as ISO strings in the context)."""
    if value is None:
        return "-"
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if not isinstance(value, datetime) else value
    return f"{moment.day} {moment:%b %Y, %H:%M} {moment.tzname() or 'UTC'}"


def _environment(folder: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / folder),
        undefined=StrictUndefined,  # a template naming a missing detail fails loudly, never sends blanks
        # HTML pages are escaped; plain-text messages (.txt) are not HTML and stay as written.
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["when"] = _when
    return env


_MESSAGES = _environment("messages")
_PAGES = _environment("survey")


def message_exists(template: str) -> bool:
    return (HERE / "messages" / f"{template}.txt").is_file()


def render_message(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, plain-text body) of one message template."""
    subject = _MESSAGES.get_template(f"{template}.subject.txt").render(context).strip()
    body = _MESSAGES.get_template(f"{template}.txt").render(context)
    return subject, body


def render_page(name: str, context: dict[str, Any]) -> str:
    return _PAGES.get_template(f"{name}.html").render(context)
