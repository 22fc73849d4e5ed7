"""The report document: a PDF for the customer, rendered with reportlab.

Rendering is deterministic (reportlab's invariant mode, no current time inside): the same record
version always gives the same bytes, so a retried or concurrent render stores the same object and
checksum.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reporting_service.timeline.domain import PHASE_NAMES

BRAND = colors.HexColor("#1F4E79")
STYLES = getSampleStyleSheet()
H1 = ParagraphStyle("h1", parent=STYLES["Heading1"], textColor=BRAND, fontSize=16, spaceAfter=4)
H2 = ParagraphStyle("h2", parent=STYLES["Heading2"], textColor=BRAND, fontSize=12, spaceBefore=8, spaceAfter=4)
BODY = ParagraphStyle("body", parent=STYLES["BodyText"], fontSize=9, leading=12)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10, textColor=colors.HexColor("#555555"))

GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)
PAIRS = TableStyle(
    [
        ("FONT", (0, 0), (0, -1), "Helvetica-Bold", 8.5),
        ("FONT", (1, 0), (1, -1), "Helvetica", 8.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#DDDDDD")),
    ]
)


def _p(text: object, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), style)


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _kept(value: bool | None) -> str:
    return "no commitment" if value is None else ("kept" if value else "NOT kept")


def _limits(indicator: dict[str, Any]) -> str:
    low, high = indicator.get("min_limit"), indicator.get("max_limit")
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    return f"min {low:g}" if low is not None else f"max {high:g}"


def _pairs(rows: list[tuple[str, Any]]) -> Table:
    table = Table([[_p(k), _p(v)] for k, v in rows], colWidths=[45 * mm, 125 * mm])
    table.setStyle(PAIRS)
    return table


def _grid(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table([[_p(h) for h in header]] + [[_p(c) for c in row] for row in rows], colWidths=widths, repeatRows=1)
    table.setStyle(GRID)
    return table


def indicator_chart(indicators: list[dict[str, Any]]) -> Drawing:
    """Each final indicator as a percentage of its limit (100 % = at the limit)."""
    ratios = []
    for indicator in indicators:
        limit = indicator.get("max_limit") if indicator.get("max_limit") else indicator.get("min_limit")
        ratios.append(round(100 * indicator["value"] / limit, 1) if limit else 0.0)
    height = 30 + 16 * len(indicators)
    drawing = Drawing(170 * mm, height + 20)
    chart = HorizontalBarChart()
    chart.x, chart.y = 60 * mm, 15
    chart.width, chart.height = 100 * mm, height
    chart.data = [ratios]
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max([120.0, *ratios]) + 10
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [i["name"][:40] for i in indicators]
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.bars[0].fillColor = BRAND
    chart.barLabelFormat = "%.0f%%"
    chart.barLabels.fontSize = 6
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 2
    drawing.add(chart)
    at_limit = chart.x + chart.width * 100 / chart.valueAxis.valueMax
    drawing.add(
        Line(at_limit, chart.y, at_limit, chart.y + chart.height, strokeColor=colors.red, strokeDashArray=[2, 2])
    )
    drawing.add(String(at_limit + 2, chart.y + chart.height + 4, "limit", fontSize=7, fillColor=colors.red))
    return drawing


def render_report(record: dict[str, Any]) -> bytes:
    """The report PDF of one record version."""
    content = record["content"]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"Maintenance report {content['job_id']}",
        author="Compressor after-sales service",
        subject=f"Record {record['record_id']} version {record['version']}",
        creator="reporting service",
        invariant=1,
    )
    equipment, customer, site = content["equipment"], content["customer"], content["site"]
    story: list[Any] = [
        _p("Maintenance report", H1),
        _p(
            f"Job {content['job_id']} - record {record['record_id']} version {record['version']} - "
            f"service date {content['service_date']}",
            SMALL,
        ),
    ]
    if record.get("correction"):
        story.append(_p(f"Corrected version: {record['correction']['reason']}", SMALL))
    story += [
        _p("Job summary", H2),
        _pairs(
            [
                ("Job", content["job_id"]),
                ("Customer", f"{customer['name']} ({customer['customer_id']})"),
                ("Site", f"{site['name']}, {site['address']}, {site['city']}"),
                ("Reported fault", content["fault_description"]),
                ("Priority", content["priority"]),
                ("Engineer", f"{content['engineer']['name']} ({content['engineer']['engineer_id']})"),
                ("Requested", _when(content["dates"]["requested_at"])),
                ("Engineer on site", _when(content["dates"]["arrived_at"])),
                ("Inspection passed", _when(content["dates"]["inspection_passed_at"])),
            ]
        ),
        _p("Equipment", H2),
        _pairs(
            [
                ("Model", f"{equipment['brand']} {equipment['model']} ({equipment['model_code']})"),
                ("Type", equipment["compressor_type"]),
                ("Serial number", equipment["serial_number"]),
                ("Running hours", content.get("running_hours") or "not read"),
            ]
        ),
        _p("Cause of failure and repair method", H2),
        _pairs(
            [
                ("Cause of failure", content["root_cause"]),
                ("Cause class", content["failure_category"]),
                ("Scope", content["diagnosis"]["scope"]),
                ("Repair method", content["repair_method"]),
            ]
        ),
        _p("Work done", H2),
    ]
    for r in content["rounds"]:
        title = (
            "Work" if len(content["rounds"]) == 1 else f"Round {r['round']}" + (" (rework)" if r["round"] > 1 else "")
        )
        story.append(_p(f"{title}: {r['repair_method']} ({r['labour_hours']:g} h)", BODY))
        story.append(
            _grid(
                ["#", "Step", "Completed"],
                [[s["sequence"], s["description"], _when(s["completed_at"])] for s in r["steps_done"]],
                [10 * mm, 115 * mm, 45 * mm],
            )
        )
        story.append(Spacer(1, 4))
    story.append(_p("Parts and materials used", H2))
    parts = content["parts_used"]
    story.append(
        _grid(
            ["Part number", "Description", "Quantity", "In plan"],
            [
                [p["part_number"], p["description"], f"{p['quantity']:g} {p['unit']}", "yes" if p["in_plan"] else "no"]
                for p in parts
            ]
            or [["-", "no parts used", "", ""]],
            [35 * mm, 85 * mm, 25 * mm, 25 * mm],
        )
    )
    story.append(_p("Inspection results against limits", H2))
    for r in content["rounds"]:
        inspection = r["inspection"]
        verdict = {True: "passed", False: "failed", None: "not inspected"}[inspection["passed"]]
        story.append(_p(f"Round {r['round']}: {verdict}", BODY))
        story.append(
            _grid(
                ["Indicator", "Value", "Limits", "Result"],
                [
                    [i["name"], f"{i['value']:g} {i['unit']}", _limits(i), "pass" if i["passed"] else "FAIL"]
                    for i in inspection["indicators"]
                ],
                [75 * mm, 30 * mm, 40 * mm, 25 * mm],
            )
        )
        story.append(Spacer(1, 4))
    final = content["rounds"][-1]["inspection"]["indicators"]
    if final:
        story += [_p("Final indicators as a percentage of their limit", BODY), indicator_chart(final)]
    story.append(_p("Time spent", H2))
    story.append(
        _grid(
            ["Phase", "Round", "Time"],
            [
                [f"{s['phase']}. {PHASE_NAMES[s['phase']]}", s["round"] or "", _hours(s["seconds"])]
                for s in content["phases"]
            ],
            [90 * mm, 30 * mm, 50 * mm],
        )
    )
    story.append(Spacer(1, 4))
    story.append(
        _pairs(
            [
                ("Labour hours", f"{content['labour_hours']:g} h"),
                ("Request to passed inspection", _hours(content["elapsed_seconds"])),
                ("Inspection rounds", content["inspection_rounds"]),
            ]
        )
    )
    story.append(_p("Service commitment", H2))
    commitment = content.get("commitment")
    story.append(
        _pairs(
            [
                ("Arrive by", f"{_when(commitment['arrive_by'])} - {_kept(content['arrive_by_met'])}"),
                ("Resolve by", f"{_when(commitment['resolve_by'])} - {_kept(content['resolve_by_met'])}"),
            ]
            if commitment
            else [("Commitment", "no commitment was recorded")]
        )
    )
    doc.build(story)
    return buffer.getvalue()
