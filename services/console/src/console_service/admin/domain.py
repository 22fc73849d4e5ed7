"""The dead-letter page's rules, pure: which services, what to replay, and what the replay did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from console_service.calls import Service
from console_service.texts import _, ngettext

SERVICES: tuple[Service, ...] = ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry")
LISTED = 200  # GET /dead-letters?limit= (1-1000)
MAX_EVENT_IDS = 1000  # ReplayRequest.event_ids
EVENT_ID_MAX = 128


@dataclass(frozen=True)
class Choice:
    """The body for POST /dead-letters/replay, or why there is none (the refusal beside the choices)."""

    body: dict[str, Any] | None
    error: str | None = None


def choice(event_ids: list[str], replay_all: bool) -> Choice:
    """Exactly one of the chosen event ids or all, as the API asks."""
    if replay_all:
        return Choice({"all": True})
    chosen = list(dict.fromkeys(i.strip() for i in event_ids if i.strip()))
    if not chosen:
        return Choice(None, _("Choose at least one dead letter to replay (or replay them all)."))
    if len(chosen) > MAX_EVENT_IDS:
        return Choice(None, _("At most %(count)d dead letters at a time.", count=MAX_EVENT_IDS))
    if any(len(i) > EVENT_ID_MAX for i in chosen):
        return Choice(None, _("An event id has at most %(count)d characters.", count=EVENT_ID_MAX))
    return Choice({"event_ids": chosen})


def confirmation_url(service: str, result: dict[str, Any]) -> str:
    """The page after a replay, saying how many went back, stayed (and why) or were not found."""
    skipped = result.get("skipped") or []
    query = {
        "service": service,
        "replayed": len(result.get("replayed") or []),
        "skipped": len(skipped),
        "not_found": len(result.get("not_found") or []),
    }
    reasons = sorted({str(s.get("reason")) for s in skipped if isinstance(s, dict) and s.get("reason")})
    if reasons:
        query["reason"] = "; ".join(reasons)[:300]
    return "/admin/dead-letters?" + urlencode(query)


@dataclass(frozen=True)
class Confirmation:
    service: str
    replayed: int
    skipped: int
    not_found: int
    reason: str | None

    @property
    def text(self) -> str:
        parts = [
            ngettext(
                "Replayed %(num)d dead letter of %(service)s to the queues that failed them.",
                "Replayed %(num)d dead letters of %(service)s to the queues that failed them.",
                self.replayed,
                service=self.service,
            )
        ]
        if self.skipped and self.reason:
            parts.append(
                _("%(count)d stayed in the dead-letter queue (%(reason)s).", count=self.skipped, reason=self.reason)
            )
        elif self.skipped:
            parts.append(_("%(count)d stayed in the dead-letter queue.", count=self.skipped))
        if self.not_found:
            parts.append(_("%(count)d had already left it.", count=self.not_found))
        return " ".join(parts)


def confirmation_of(query: dict[str, str | None]) -> Confirmation | None:
    """The confirmation named in the page's query, if any (ignored when it does not make sense)."""
    service = query.get("service")
    if service not in SERVICES:
        return None
    try:
        counts = [int(query.get(name) or 0) for name in ("replayed", "skipped", "not_found")]
    except ValueError:
        return None
    if any(c < 0 or c > 100_000 for c in counts):
        return None
    reason = (query.get("reason") or "")[:300] or None
    return Confirmation(str(service), counts[0], counts[1], counts[2], reason)
