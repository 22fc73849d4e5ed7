"""Message and page templates (Jinja2 files in this folder), rendered with the job's real details in the
reader's language (`{{ _("...") }}` from feedback's catalogue) with Malaysian dates, times and numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from babel import dates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from compressor_contracts.common import Language
from compressor_kit.i18n import current_language, format_date, locale_of, speaking
from feedback_service.texts import TEXTS

HERE = Path(__file__).parent
TIME_ZONE = "time_zone"  # the context variable naming the zone times are written in (UTC when absent)


def moment(value: object) -> datetime:
    """A time as the context carries it ('2026-03-03T14:00:00Z', or a datetime), aware (UTC when naive)."""
    if isinstance(value, datetime):
        found = value
    else:
        found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def written_time(value: object, zone: tzinfo) -> str:
    """'3 Mac 2026, 2:15 PTG MYT' / '3 Mar 2026, 2:15 pm MYT': the day, the time and the zone, in the
    current language's formats."""
    if value is None:
        return "-"
    local = moment(value).astimezone(zone)
    locale = locale_of()
    day = dates.format_date(local.date(), "medium", locale=locale)
    # CLDR puts a narrow no-break space before "pm"; plain-text mail readers show a plain space best.
    time = dates.format_time(local, "short", locale=locale).replace("\u202f", " ")
    return f"{day}, {time} {dates.format_datetime(local, 'z', tzinfo=zone, locale=locale)}"


@pass_context
def _when(context: Context, value: object) -> str:
    zone = context.get(TIME_ZONE) or UTC
    return written_time(value, zone)


def _day(value: object) -> str:
    """A calendar day ('2026-03-03', a date or a datetime) as '3 Mac 2026' / '3 Mar 2026'."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        value = date.fromisoformat(str(value)[:10])
    return format_date(value, "medium")


def in_language(english: str | None, malay: str | None) -> str | None:
    """The Malay text when the reader speaks Malay and there is one; the English otherwise."""
    return malay if current_language() is Language.MS and malay else english


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
    TEXTS.install(env)
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.globals["in_language"] = in_language
    return env


_MESSAGES = _environment("messages")
_PAGES = _environment("survey")


def message_exists(template: str) -> bool:
    return (HERE / "messages" / f"{template}.txt").is_file()


def render_message(
    template: str, context: dict[str, Any], language: Language | str | None, zone: tzinfo
) -> tuple[str, str]:
    """(subject, plain-text body) of one message template, written in `language` with times in `zone`."""
    values = {**context, TIME_ZONE: zone}
    with speaking(language):
        subject = " ".join(_MESSAGES.get_template(f"{template}.subject.txt").render(values).split())
        body = _MESSAGES.get_template(f"{template}.txt").render(values)
    return subject, body


def render_page(name: str, context: dict[str, Any], zone: tzinfo) -> str:
    """One survey page in the current language (the handler chose it: `speaking`)."""
    return _PAGES.get_template(f"{name}.html").render({**context, TIME_ZONE: zone})
