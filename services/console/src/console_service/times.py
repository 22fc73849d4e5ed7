"""Times as the APIs give them and time zones as calendars name them, read the same way on every page,
and shown to people in their language (the `local_*` functions, also the templates' filters). Pure: no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import dates

from compressor_kit.i18n import locale_of


def zone_of(name: object) -> ZoneInfo:
    """The named time zone, or UTC when it is missing or unknown."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def moment(value: object) -> datetime | None:
    """An API timestamp (ISO 8601) as an aware datetime (UTC when it names no zone); None when absent
    or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- shown to people: in the reader's language (Babel), in Malaysian time ----------------------------------

MALAYSIA = ZoneInfo("Asia/Kuala_Lumpur")
# Fixed patterns rather than the locale's "medium": 24-hour clocks, as work schedules are written here.
DATE = "d MMM y"  # 2 Mac 2026
DATETIME = "d MMM y, HH:mm"  # 2 Mac 2026, 07:30
DAY = "EEE d MMM"  # Isn 2 Mac
DAY_TIME = "EEE d MMM, HH:mm"  # Isn 2 Mac, 07:30
TIME = "HH:mm"


def _local(value: object, zone: tzinfo | None) -> datetime | date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    when = moment(value)
    return when.astimezone(zone or MALAYSIA) if when else None


def shown(value: object, pattern: str, zone: tzinfo | None = None) -> str:
    """`value` (a datetime, a date or an API timestamp) in the reader's language and `zone` (Malaysia
    unless given); "" when absent or unreadable."""
    local = _local(value, zone)
    if local is None:
        return ""
    if isinstance(local, datetime):
        return dates.format_datetime(local, pattern, tzinfo=local.tzinfo, locale=locale_of())
    return dates.format_date(local, pattern, locale=locale_of())


def local_date(value: object, zone: tzinfo | None = None) -> str:
    return shown(value, DATE, zone)


def local_datetime(value: object, zone: tzinfo | None = None) -> str:
    return shown(value, DATETIME, zone)


def local_day(value: object, zone: tzinfo | None = None) -> str:
    return shown(value, DAY, zone)


def local_day_time(value: object, zone: tzinfo | None = None) -> str:
    return shown(value, DAY_TIME, zone)


def local_time(value: object, zone: tzinfo | None = None) -> str:
    return shown(value, TIME, zone)


FILTERS = {
    "local_date": local_date,
    "local_datetime": local_datetime,
    "local_day": local_day,
    "local_day_time": local_day_time,
    "local_time": local_time,
}
