"""Silence (pure, no I/O): a machine whose device has sent nothing for days runs unwatched, and its
gateway may be down. Management hears of it once per silence: a reading ends the silence, and the
next one is a new silence (a new key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Silence:
    device_id: str
    equipment_id: str
    last_reading_at: datetime | None
    """None: the device never sent a reading; the silence counts from its registration."""
    since: datetime

    @property
    def key(self) -> str:
        """One per device and last reading: the same silence whoever looks, however often."""
        last = "never" if self.last_reading_at is None else str(int(self.last_reading_at.timestamp() * 1000))
        return f"{self.device_id}@{last}"

    def days(self, now: datetime) -> int:
        return max(0, (now - self.since) // timedelta(days=1))


def silent(
    device_id: str,
    equipment_id: str,
    *,
    registered_at: datetime,
    last_reading_at: datetime | None,
    now: datetime,
    days: int,
) -> Silence | None:
    """The device's silence, if it has sent nothing for `days` days (counted from its registration when
    it never sent anything)."""
    since = last_reading_at or registered_at
    if now - since < timedelta(days=days):
        return None
    return Silence(device_id, equipment_id, last_reading_at, since)
