"""Alarm episodes (pure, no I/O): when a controller's alarm or warning needs a visit.

An episode is one code of one device, from its first report until it has stayed clear for the flap
window. Each episode raises at most one request:
- a shutdown alarm raises at once;
- a warning raises once its episode has lasted the grace period (a flapping warning counts from its
  first report: coming back again and again is persisting);
- a warning that clears within the grace and stays clear for the flap window raises nothing;
- an alarm that clears and returns within the flap window is the same episode, raised once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from compressor_contracts.events.telemetry import AlarmSeverity


@dataclass(frozen=True)
class AlarmPolicy:
    grace: timedelta
    """How long a warning must last before it raises."""
    flap: timedelta
    """How long a cleared alarm may stay away and still be the same episode when it returns."""


@dataclass(frozen=True)
class Episode:
    device_id: str
    code: str
    severity: AlarmSeverity
    started_at: datetime
    """The reading that first reported the code in this episode."""
    seen_at: datetime
    """The latest reading that changed the episode (readings before it say nothing new)."""
    cleared_at: datetime | None = None
    """The first reading without the code since it was last reported; None while it is active."""
    raised: bool = False

    @property
    def episode_id(self) -> str:
        """The same for every reading of the episode, and a valid identifier whatever the code's text."""
        started = self.started_at.astimezone(UTC)
        started = started.replace(microsecond=started.microsecond // 1000 * 1000)  # as MongoDB keeps it
        digest = hashlib.sha256(f"{self.device_id}|{self.code}|{started.isoformat()}".encode()).hexdigest()
        return f"ALM-{digest[:20]}"

    def over(self, at: datetime, policy: AlarmPolicy) -> bool:
        """Clear for longer than the flap window: whatever comes next is a new episode."""
        return self.cleared_at is not None and at - self.cleared_at > policy.flap


@dataclass(frozen=True)
class Judgement:
    changed: list[Episode]
    """Episodes to save (new or updated)."""
    over: list[Episode]
    """Episodes that ended: forgotten."""
    raised: list[Episode]
    """Episodes that raise their request with this reading (each also in `changed`)."""


def active_codes(alarms: Iterable[str], warnings: Iterable[str]) -> dict[str, AlarmSeverity]:
    """The codes a reading reports, with their severity: the alarms list holds shutdowns (a code in both
    lists counts as a shutdown)."""
    active = {code: AlarmSeverity.WARNING for code in warnings}
    active.update({code: AlarmSeverity.SHUTDOWN for code in alarms})
    return active


def judge(
    episodes: Mapping[str, Episode],
    *,
    device_id: str,
    read_at: datetime,
    active: Mapping[str, AlarmSeverity],
    policy: AlarmPolicy,
) -> Judgement:
    """What one reading (at `read_at`, reporting `active`) does to the device's episodes (by code)."""
    changed: list[Episode] = []
    over: list[Episode] = []
    raised: list[Episode] = []
    for code in sorted(set(episodes) | set(active)):
        episode = episodes.get(code)
        if episode is not None and read_at <= episode.seen_at:
            continue  # a reading older than what the episode already knows
        if episode is not None and episode.over(read_at, policy):
            over.append(episode)
            episode = None
        severity = active.get(code)
        if severity is None:
            if episode is not None and episode.cleared_at is None:
                changed.append(replace(episode, seen_at=read_at, cleared_at=read_at))
            continue
        if episode is None:
            episode = Episode(device_id, code, severity, started_at=read_at, seen_at=read_at)
        else:
            episode = replace(episode, seen_at=read_at, cleared_at=None, severity=_graver(episode.severity, severity))
        if not episode.raised and _raises(episode, read_at, policy):
            episode = replace(episode, raised=True)
            raised.append(episode)
        changed.append(episode)
    return Judgement(changed, over, raised)


def _raises(episode: Episode, read_at: datetime, policy: AlarmPolicy) -> bool:
    return episode.severity is AlarmSeverity.SHUTDOWN or read_at - episode.started_at >= policy.grace


def _graver(a: AlarmSeverity, b: AlarmSeverity) -> AlarmSeverity:
    # A warning that turns into a shutdown stays the same episode; it is raised at once if it was not yet.
    return AlarmSeverity.SHUTDOWN if AlarmSeverity.SHUTDOWN in (a, b) else AlarmSeverity.WARNING
