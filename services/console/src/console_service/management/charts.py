"""Charts drawn as SVG on the server, in pure Python: no script, nothing from a CDN.

Each chart is an accessible image (`role="img"`, its `<title>` and `<desc>` named by
`aria-labelledby`), scales with its container (a `viewBox`, no fixed width), and comes with the same
figures as a table (`Chart.rows`) that the page shows beside it for those who cannot see the drawing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from console_service.field.domain import FAILURE_CATEGORY_NAMES
from console_service.texts import _

WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 50, 46, 14, 52  # RIGHT: room for the Pareto's share axis
EDGE = 18  # the right margin of a chart without a right axis
COLOURS = ("#0b5cad", "#b5541c", "#1d7a3a", "#6b3fa0")
MARKERS = ("circle", "square", "diamond", "triangle")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Chart:
    """An SVG drawing and its data table: `columns` head the table, `rows` are its lines."""

    ident: str
    title: str
    description: str
    svg: Markup
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    empty: bool = False


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def nice_top(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _frame(ident: str, title: str, description: str, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg" '
        f'preserveAspectRatio="xMidYMid meet">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    )
    # Every text in the drawing went through escape(); the rest is numbers and fixed markup.
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind == "diamond":
        path = f"M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y:.1f}L{x:.1f} {y + 5:.1f}L{x - 5:.1f} {y:.1f}Z"
        return f'<path d="{path}" fill="{colour}"/>'
    if kind == "triangle":
        return f'<path d="M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y + 4:.1f}L{x - 5:.1f} {y + 4:.1f}Z" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def _y_axis(
    low: float, high: float, unit: str, x: float, anchor: str = "end", ticks: int = 4, right: float = EDGE
) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(ticks + 1):
        value = low + (high - low) * i / ticks
        y = TOP + plot_h - plot_h * i / ticks
        if anchor == "end":
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        label = escape(_num(value) + unit)
        parts.append(f'<text x="{x}" y="{y + 5:.1f}" text-anchor="{anchor}" class="tick">{label}</text>')
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 5))  # at most five labels: they stay legible on a phone
    parts = []
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if (len(labels) - 1 - i) % every:  # counted from the latest period, which is always shown
            continue
        # The latest period's label ends at its point, so that it is not cut off at the right edge.
        anchor, at = ("end", x + 6) if len(labels) > 1 and i == len(labels) - 1 else ("middle", x)
        parts.append(
            f'<text x="{at:.1f}" y="{HEIGHT - BOTTOM + 22}" text-anchor="{anchor}" class="tick">{escape(label)}</text>'
        )
    return parts


def line_chart(
    ident: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    low: float = 0.0,
    high: float | None = None,
    describe: str = "",
    ticks: int = 4,
) -> Chart:
    """Values over time (one line per series, a gap where a period has no value)."""
    values = [v for s in series for v in s.values if v is not None]
    top = high if high is not None else nice_top(max(values, default=0.0))
    bottom = low if high is not None or min(values, default=0.0) >= low else -nice_top(-min(values))
    plot_w, plot_h = WIDTH - LEFT - EDGE, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)
    xs = [LEFT + step * i if len(labels) > 1 else LEFT + plot_w / 2 for i in range(len(labels))]

    def y_of(v: float) -> float:
        return TOP + plot_h - plot_h * (v - bottom) / ((top - bottom) or 1)

    body = _y_axis(bottom, top, unit, LEFT - 6, ticks=ticks)
    body += _x_labels(labels, xs)
    for n, s in enumerate(series):
        colour, marker = COLOURS[n % len(COLOURS)], MARKERS[n % len(MARKERS)]
        segment: list[str] = []
        for x, v in zip(xs, s.values, strict=True):
            if v is None:
                if len(segment) > 1:
                    body.append(
                        f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
                    )
                segment = []
                continue
            segment.append(f"{x:.1f},{y_of(v):.1f}")
            body.append(_marker(marker, x, y_of(v), colour))
        if len(segment) > 1:
            body.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
    if len(series) > 1:
        for n, s in enumerate(series):
            x = LEFT + n * 170
            colour, marker = COLOURS[n % len(COLOURS)], MARKERS[n % len(MARKERS)]
            body.append(_marker(marker, x + 4, HEIGHT - 12, colour))
            body.append(f'<text x="{x + 14}" y="{HEIGHT - 8}" class="legend">{escape(s.name)}</text>')
    empty = not values
    if empty:
        body.append(_no_data(plot_h))
    summary = describe or _line_summary(labels, series, unit)
    rows = [(label, *(_cell(s.values[i], unit) for s in series)) for i, label in enumerate(labels)]
    return Chart(
        ident,
        title,
        summary,
        _frame(ident, title, summary, body),
        (_("Period"), *(s.name for s in series)),
        rows,
        empty,
    )


def _no_data(plot_h: float) -> str:
    text = escape(_("No data in this range"))
    return f'<text x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" class="none">{text}</text>'


def _cell(value: float | None, unit: str) -> str:
    return "\u2013" if value is None else f"{_num(round(value, 2))}{unit}"


def _line_summary(labels: Sequence[str], series: Sequence[Series], unit: str) -> str:
    parts = []
    for s in series:
        known = [(label, v) for label, v in zip(labels, s.values, strict=True) if v is not None]
        if not known:
            parts.append(
                _("%(series)s: no data from %(first)s to %(last)s.", series=s.name, first=labels[0], last=labels[-1])
                if labels
                else _("%(series)s: no data.", series=s.name)
            )
            continue
        first, last = known[0], known[-1]
        parts.append(
            _(
                "%(series)s: %(first)s in %(first_period)s, %(last)s in %(last_period)s "
                "(%(known)d of %(count)d periods with data).",
                series=s.name,
                first=_cell(first[1], unit),
                first_period=first[0],
                last=_cell(last[1], unit),
                last_period=last[0],
                known=len(known),
                count=len(labels),
            )
        )
    return " ".join(parts)


def pareto_chart(ident: str, title: str, causes: Sequence[tuple[str, int]]) -> Chart:
    """Causes as bars, most frequent first, with the cumulative share as a line on the right axis."""
    ordered = sorted(causes, key=lambda c: (-c[1], c[0]))
    total = sum(count for _, count in ordered)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_top(max((count for _, count in ordered), default=0))
    count_ticks = int(top) if top <= 5 else 4  # whole jobs on the left axis
    body = _y_axis(0, top, "", LEFT - 6, ticks=count_ticks, right=RIGHT)
    body += _y_axis(0, 100, "%", WIDTH - RIGHT + 6, anchor="start", right=RIGHT)
    slot = plot_w / max(1, len(ordered))
    width = min(72.0, slot * 0.7)
    cumulative, points, rows = 0, [], list[tuple[str, ...]]()
    for i, (cause, count) in enumerate(ordered):
        x = LEFT + slot * i + slot / 2
        h = plot_h * count / top
        bar_y = TOP + plot_h - h
        body.append(f'<rect x="{x - width / 2:.1f}" y="{bar_y:.1f}" width="{width:.1f}" height="{h:.1f}" class="bar"/>')
        cumulative += count
        share = 100 * cumulative / total
        points.append(f"{x:.1f},{TOP + plot_h - plot_h * share / 100:.1f}")
        body.append(_marker("circle", x, TOP + plot_h - plot_h * share / 100, COLOURS[1]))
        name = escape(_label(cause))
        body.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 22}" text-anchor="middle" class="tick">{name}</text>')
        rows.append((_label(cause), str(count), f"{_num(round(100 * count / total, 1))}%", f"{_num(round(share, 1))}%"))
    if len(points) > 1:
        body.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{COLOURS[1]}" stroke-width="2.5"/>')
    if ordered:
        body.append(f'<rect x="{LEFT}" y="{HEIGHT - 18}" width="10" height="10" class="bar"/>')
        body.append(f'<text x="{LEFT + 14}" y="{HEIGHT - 8}" class="legend">{escape(_("Jobs"))}</text>')
        body.append(_marker("circle", LEFT + 84, HEIGHT - 12, COLOURS[1]))
        body.append(f'<text x="{LEFT + 94}" y="{HEIGHT - 8}" class="legend">{escape(_("Cumulative share"))}</text>')
        head = ordered[0]
        summary = _(
            "%(total)d jobs with a known cause. Most frequent: %(cause)s (%(count)d, %(share)s%%).",
            total=total,
            cause=_label(head[0]),
            count=head[1],
            share=_num(round(100 * head[1] / total, 1)),
        )
    else:
        body.append(_no_data(plot_h))
        summary = _("No failure causes recorded in this range.")
    return Chart(
        ident,
        title,
        summary,
        _frame(ident, title, summary, body),
        (_("Cause"), _("Jobs"), _("Share"), _("Cumulative")),
        rows,
        not ordered,
    )


def _label(code: str) -> str:
    name = FAILURE_CATEGORY_NAMES.get(code)
    return _(name) if name else code.replace("_", " ").capitalize()
