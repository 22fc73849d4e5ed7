"""A machine's controller readings as people read them (pure, no I/O): charts over time of running
hours, discharge pressure and element outlet temperature, with the limits drawn as lines and each
reading the controller flagged (an alarm or a warning) marked, plus the same readings as a table.

Readings come from telemetry's API (`GET /devices/{id}/readings`) or from a job's request, which
carries the readings telemetry attached when the machine raised it (`job.requested.machine_readings`);
both have the same fields (`ReadingSummary`), and the same reading from both is shown once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from markupsafe import Markup

from console_service.texts import N_, _
from console_service.times import local_datetime, moment, shown

WIDTH, HEIGHT = 480, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 18, 16, 44
LINE = "#0b5cad"
WARNING, ALARM = "#8a5a00", "#b3261e"  # amber and red dark enough for 4.5:1 on white
ALARM_FLAG, WARNING_FLAG = "alarm", "warning"
# How many of a device's newest readings a page draws: two days at one every 15 minutes.
READINGS_LIMIT = 192


@dataclass(frozen=True)
class Limit:
    """A line across a chart: where the controller warns (`warning`) or stops the machine (`shutdown`)."""

    kind: str
    value: float


@dataclass(frozen=True)
class Quantity:
    """One charted field of a reading."""

    key: str
    title: str
    unit: str
    limits: tuple[Limit, ...] = ()
    decimals: int = 1


# The controllers' usual limits for an oil-injected screw's element outlet (Elektronikon and SIGMA
# CONTROL alike: a warning at 110 °C, a shutdown at 120 °C). Pressure limits depend on the model's
# rated pressure, so only the controller's own alarms mark them.
QUANTITIES = (
    Quantity("running_hours", N_("Running hours"), " h", decimals=0),
    Quantity("discharge_pressure_bar", N_("Discharge pressure"), " bar", decimals=2),
    Quantity(
        "element_outlet_temperature_c",
        N_("Element outlet temperature"),
        " °C",
        (Limit("warning", 110.0), Limit("shutdown", 120.0)),
    ),
)
LIMIT_NAMES = {"warning": N_("Warning limit"), "shutdown": N_("Shutdown limit")}
LIMIT_KINDS = {"warning": N_("warning"), "shutdown": N_("shutdown")}


@dataclass(frozen=True)
class Reading:
    read_at: datetime
    values: dict[str, float | None]
    alarms: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def flag(self) -> str | None:
        return ALARM_FLAG if self.alarms else WARNING_FLAG if self.warnings else None

    def cells(self) -> list[str]:
        """Its charted values as the table shows them, in QUANTITIES' order."""
        return [figure(self.values.get(q.key), q) for q in QUANTITIES]


def readings_of(*sources: Iterable[dict[str, Any]]) -> list[Reading]:
    """Readings (telemetry's or a request's, as JSON) oldest first, each time once; unreadable ones left out."""
    found: dict[datetime, Reading] = {}
    for source in sources:
        for raw in source:
            when = moment(raw.get("read_at")) if isinstance(raw, dict) else None
            if when is None:
                continue
            values = {q.key: _number(raw.get(q.key)) for q in QUANTITIES}
            found[when] = Reading(when, values, _codes(raw.get("alarms")), _codes(raw.get("warnings")))
    return [found[when] for when in sorted(found)]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _codes(value: object) -> tuple[str, ...]:
    return tuple(str(code) for code in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class ReadingsChart:
    ident: str
    title: str
    description: str
    svg: Markup


@dataclass(frozen=True)
class Readings:
    """What a page shows of a machine's readings: a chart per quantity and the table of every reading."""

    charts: list[ReadingsChart]
    readings: list[Reading]
    flagged: int = 0
    limits: list[str] = field(default_factory=list)
    """Each limited quantity's limits in words, e.g. "Element outlet temperature: warning 110 °C, shutdown 120 °C"."""

    @property
    def empty(self) -> bool:
        return not self.readings

    @property
    def latest_running_hours(self) -> tuple[str, datetime] | None:
        """The newest running hours the controller read, and when."""
        quantity = QUANTITIES[0]
        for reading in reversed(self.readings):
            value = reading.values.get(quantity.key)
            if value is not None:
                return figure(value, quantity), reading.read_at
        return None


def figure(value: float | None, quantity: Quantity) -> str:
    if value is None:
        return "\u2013"
    text = f"{value:,.{quantity.decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")  # 86 °C, 119.6 °C
    return text + quantity.unit


def show(readings: Sequence[Reading], marked_at: datetime | None = None, marked_label: str = "") -> Readings:
    """The charts and table of `readings` (oldest first); `marked_at` draws a line at a moment (the
    job's request) named `marked_label`."""
    charts = [_chart(q, readings, marked_at, marked_label) for q in QUANTITIES] if readings else []
    limits = [
        f"{_(q.title)}: " + ", ".join(f"{_(LIMIT_KINDS[lim.kind])} {figure(lim.value, q)}" for lim in q.limits)
        for q in QUANTITIES
        if q.limits
    ]
    return Readings(charts, list(readings), sum(1 for r in readings if r.flag), limits)


def _scale(values: Sequence[float]) -> tuple[float, float, float]:
    """A round (low, high, step) around `values`, in four steps."""
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - max(1.0, abs(low) * 0.05), high + max(1.0, abs(high) * 0.05)
    raw = (high - low) / 4
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if raw <= s * power)
    bottom = math.floor(low / step) * step
    top = math.ceil(high / step) * step
    while (top - bottom) / step > 4:  # rounding out both ends can need a fifth step: widen it instead
        step = next(s * power for s in (1, 2, 2.5, 5, 10, 20, 25, 50, 100) if s * power > step)
        bottom, top = math.floor(low / step) * step, math.ceil(high / step) * step
    if bottom < 0 <= low:
        bottom = 0.0
    return bottom, top, step


def _tick(value: float, step: float) -> str:
    decimals = 0 if step >= 1 else 1 if step >= 0.1 else 2
    return f"{value:,.{decimals}f}"


def _chart(
    quantity: Quantity, readings: Sequence[Reading], marked_at: datetime | None, marked_label: str
) -> ReadingsChart:
    ident = f"chart-{quantity.key.replace('_', '-')}"
    title = f"{_(quantity.title)} ({quantity.unit.strip()})"
    known = [(r, v) for r in readings if (v := r.values.get(quantity.key)) is not None]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    start, end = readings[0].read_at, readings[-1].read_at
    if marked_at is not None and marked_at > end:
        end = marked_at  # the moment marked (the job's request) comes after the last reading it carried
    span = (end - start).total_seconds() or 1.0

    def x_of(when: datetime) -> float:
        if start == end:
            return LEFT + plot_w / 2
        return LEFT + plot_w * min(1.0, max(0.0, (when - start).total_seconds() / span))

    # A limit's line and label stay inside the drawing, with room for the label above the line.
    scale_values = [v for _r, v in known] + [lim.value * 1.04 for lim in quantity.limits]
    bottom, top, step = _scale(scale_values) if known else (0.0, 1.0, 0.25)

    def y_of(value: float) -> float:
        return TOP + plot_h - plot_h * (value - bottom) / (top - bottom)

    body: list[str] = []
    ticks = round((top - bottom) / step)
    for i in range(ticks + 1):
        value = bottom + step * i
        y = y_of(value)
        body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        body.append(f'<text x="{LEFT - 6}" y="{y + 5:.1f}" text-anchor="end" class="tick">{_tick(value, step)}</text>')
    # Time: the first and the last reading's moment (two labels stay legible on a phone).
    body.append(f'<text x="{LEFT}" y="{HEIGHT - 14}" text-anchor="start" class="tick">{escape(_when(start))}</text>')
    if end != start:
        body.append(
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 14}" text-anchor="end" class="tick">{escape(_when(end))}</text>'
        )
    for lim in quantity.limits:
        y = y_of(lim.value)
        colour = ALARM if lim.kind == "shutdown" else WARNING
        body.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="6 4" class="limit {lim.kind}"/>'
        )
        label = escape(f"{_(LIMIT_NAMES[lim.kind])} {figure(lim.value, quantity)}")
        body.append(
            f'<text x="{LEFT + 4}" y="{y - 4:.1f}" text-anchor="start" fill="{colour}" class="limit-label">'
            f"{label}</text>"
        )
    if marked_at is not None and start <= marked_at <= end:
        x = x_of(marked_at)
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_h}" class="marked" stroke-dasharray="2 3"/>'
        )
        body.append(
            f'<text x="{x - 4:.1f}" y="{TOP + plot_h - 6}" text-anchor="end" class="tick">{escape(marked_label)}</text>'
        )
    if len(known) > 1:
        points = " ".join(f"{x_of(r.read_at):.1f},{y_of(v):.1f}" for r, v in known)
        body.append(f'<polyline points="{points}" fill="none" stroke="{LINE}" stroke-width="2.5"/>')
    for r, v in known:
        body.append(_point(r, x_of(r.read_at), y_of(v), figure(v, quantity)))
    if not known:
        text = escape(_("No readings of this quantity"))
        body.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" class="none">{text}</text>'
        )
    description = _describe(quantity, known)
    return ReadingsChart(ident, title, description, _frame(ident, title, description, body))


def _point(reading: Reading, x: float, y: float, text: str) -> str:
    """A reading's point: a dot, or for a reading the controller flagged a larger mark with its codes."""
    when = escape(local_datetime(reading.read_at))
    if reading.flag == ALARM_FLAG:
        codes = escape(", ".join(reading.alarms))
        word = escape(_("alarm"))
        path = f"M{x:.1f} {y - 8:.1f}L{x + 7:.1f} {y + 5:.1f}L{x - 7:.1f} {y + 5:.1f}Z"
        return (
            f'<path d="{path}" fill="{ALARM}" stroke="#fff" stroke-width="1" class="point alarm">'
            f"<title>{when}: {escape(text)}, {word} {codes}</title></path>"
        )
    if reading.flag == WARNING_FLAG:
        codes = escape(", ".join(reading.warnings))
        word = escape(_("warning"))
        path = f"M{x:.1f} {y - 6:.1f}L{x + 6:.1f} {y:.1f}L{x:.1f} {y + 6:.1f}L{x - 6:.1f} {y:.1f}Z"
        return (
            f'<path d="{path}" fill="{WARNING}" stroke="#fff" stroke-width="1" class="point warning">'
            f"<title>{when}: {escape(text)}, {word} {codes}</title></path>"
        )
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{LINE}" class="point">'
        f"<title>{when}: {escape(text)}</title></circle>"
    )


def _when(moment_: datetime) -> str:
    return shown(moment_, "d MMM, HH:mm")


def _describe(quantity: Quantity, known: Sequence[tuple[Reading, float]]) -> str:
    title = _(quantity.title)
    if not known:
        return _("%(quantity)s: no readings.", quantity=title)
    values = [v for _r, v in known]
    text = _(
        "%(quantity)s: %(count)d readings from %(first)s to %(last)s, between %(low)s and %(high)s; latest %(latest)s.",
        quantity=title,
        count=len(known),
        first=local_datetime(known[0][0].read_at),
        last=local_datetime(known[-1][0].read_at),
        low=figure(min(values), quantity),
        high=figure(max(values), quantity),
        latest=figure(values[-1], quantity),
    )
    alarms = sum(1 for r, _v in known if r.flag == ALARM_FLAG)
    warnings = sum(1 for r, _v in known if r.flag == WARNING_FLAG)
    if alarms or warnings:
        text += " " + _(
            "Marked: %(alarms)d with an alarm, %(warnings)d with a warning.", alarms=alarms, warnings=warnings
        )
    for lim in quantity.limits:
        over = sum(1 for v in values if v >= lim.value)
        if over:
            text += " " + _(
                "%(count)d at or above the %(limit)s (%(value)s).",
                count=over,
                limit=_(LIMIT_NAMES[lim.kind]).lower(),
                value=figure(lim.value, quantity),
            )
    return text


def _frame(ident: str, title: str, description: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart readings" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    )
    # Every text in the drawing went through escape(); the rest is numbers and fixed markup.
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704
