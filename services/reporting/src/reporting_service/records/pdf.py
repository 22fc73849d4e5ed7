"""The report document: a PDF for the customer in Bahasa Melayu or English, rendered with reportlab.

Everything the reader sees is in the report's language: headings, labels, phase names, the words
of the tables, dates (long form, Malaysia time) and numbers (Babel's ms_MY / en_MY formats); the
texts that come from events in both languages (plan steps, inspection indicators and their
corrective actions) are shown in Malay when the event carried Malay. What people wrote (the fault,
the cause, the repair) is shown as written.

Rendering is deterministic (reportlab's invariant mode, no current time inside): the same record
version in the same language always gives the same bytes, so a retried or concurrent render stores
the same object and checksum.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from babel import dates
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from compressor_contracts.common import Language
from compressor_kit.i18n import N_, format_date, format_decimal, locale_of, speaking
from reporting_service.texts import _
from reporting_service.timeline.domain import PHASE_NAMES

MALAYSIA = ZoneInfo("Asia/Kuala_Lumpur")
BRAND = colors.HexColor("#1F4E79")
STYLES = getSampleStyleSheet()
H1 = ParagraphStyle("h1", parent=STYLES["Heading1"], textColor=BRAND, fontSize=16, spaceAfter=4)
H2 = ParagraphStyle(
    "h2", parent=STYLES["Heading2"], textColor=BRAND, fontSize=12, spaceBefore=8, spaceAfter=4, keepWithNext=1
)
BODY = ParagraphStyle("body", parent=STYLES["BodyText"], fontSize=9, leading=12)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8.5, leading=10.5)
HEAD = ParagraphStyle("head", parent=CELL, fontName="Helvetica-Bold")
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10, textColor=colors.HexColor("#555555"))
HASH = ParagraphStyle("hash", parent=SMALL, fontName="Courier", fontSize=7, leading=9)
FOOTER_GREY = colors.HexColor("#777777")
# The drawn signature keeps its proportions inside this box: legible, never larger than a real one.
SIGNATURE_BOX = (62 * mm, 24 * mm)

GRID = TableStyle(
    [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DCE6F1")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)
PAIRS = TableStyle(
    [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#DDDDDD")),
    ]
)
SIGNATURE = TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)])
FRAME = TableStyle(
    [
        ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)

PRIORITIES = {"critical": N_("critical"), "high": N_("high"), "normal": N_("normal"), "low": N_("low")}
COMPRESSOR_TYPES = {
    "oil_injected_screw": N_("oil-injected screw"),
    "oil_free_screw": N_("oil-free screw"),
    "piston": N_("piston"),
    "scroll": N_("scroll"),
    "centrifugal": N_("centrifugal"),
}
FAILURE_CATEGORIES = {
    "air_end": N_("air end"),
    "lubrication": N_("lubrication"),
    "cooling": N_("cooling"),
    "air_intake": N_("air intake"),
    "valves_and_regulation": N_("valves and regulation"),
    "motor_and_drive": N_("motor and drive"),
    "electrical_and_controls": N_("electrical and controls"),
    "leaks": N_("leaks"),
    "condensate_and_drying": N_("condensate and drying"),
    "scheduled_service": N_("scheduled service"),
    "other": N_("other"),
}
# Units of parts that are words; measurement units (bar, °C, mm/s, l) read the same in both languages.
UNITS = {"pcs": N_("pcs"), "pc": N_("pcs"), "set": N_("set"), "sets": N_("sets")}


def _p(text: object, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), style)


def _word(labels: dict[str, str], value: object) -> str:
    """An enumerated value in the reader's language (as it came when it is not one we know)."""
    label = labels.get(str(value))
    return _(label) if label else str(value)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _moment(value: datetime | str) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    # Stored times are UTC; one read without its zone is UTC too, never the machine's zone.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(MALAYSIA)


def _when(value: datetime | str | None) -> str:
    """'2 Mac 2026, 4:30 PTG' / '2 March 2026, 4:30 pm', in Malaysia time."""
    if value is None:
        return "-"
    moment = _moment(value)
    return f"{format_date(moment.date(), 'long')}, {dates.format_time(moment, 'short', locale=locale_of())}"


def _day(value: datetime | str) -> str:
    return format_date(_moment(value).date(), "long")


def _running_hours(content: dict[str, Any]) -> str:
    """The hour meter at the visit, saying where the figure came from when the engineer typed none."""
    hours = content.get("running_hours")
    if hours is None:
        return _("not read")
    if content.get("running_hours_source") == "controller":
        return _(
            "%(hours)s (read by the machine's controller, %(when)s)",
            hours=_number(hours),
            when=_when(content.get("running_hours_read_at")),
        )
    return _number(hours)


def _number(value: float | int) -> str:
    return format_decimal(value)


def _hours(seconds: float) -> str:
    return _("%(hours)s h", hours=_number(round(seconds / 3600, 1)))


def _quantity(value: float | int, unit: str) -> str:
    return f"{_number(value)} {_word(UNITS, unit)}"


def _kept(value: bool | None) -> str:
    if value is None:
        return _("no commitment")
    return _("kept") if value else _("NOT kept")


def _limits(indicator: dict[str, Any]) -> str:
    low, high = indicator.get("min_limit"), indicator.get("max_limit")
    if low is not None and high is not None:
        return _("%(low)s to %(high)s", low=_number(low), high=_number(high))
    if low is not None:
        return _("min. %(low)s", low=_number(low))
    return _("max. %(high)s", high=_number(high or 0))


def _malay_or_english(english: str | None, malay: str | None, language: Language) -> str:
    return (malay if language is Language.MS and malay else english) or ""


def _pairs(rows: list[tuple[str, Any]], widths: tuple[float, float] = (48 * mm, 126 * mm)) -> Table:
    table = Table([[_p(k, HEAD), _p(v, CELL)] for k, v in rows], colWidths=list(widths))
    table.setStyle(PAIRS)
    return table


def _grid(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    cells = [[c if isinstance(c, Paragraph) else _p(c, CELL) for c in row] for row in rows]
    table = Table([[_p(h, HEAD) for h in header], *cells], colWidths=widths, repeatRows=1)
    table.setStyle(GRID)
    return table


def indicator_chart(indicators: list[dict[str, Any]], language: Language) -> Drawing:
    """Each final indicator as a percentage of its limit (100 % = at the limit)."""
    ratios = []
    for indicator in indicators:
        limit = indicator.get("max_limit") if indicator.get("max_limit") else indicator.get("min_limit")
        ratios.append(round(100 * indicator["value"] / limit, 1) if limit else 0.0)
    height = 30 + 16 * len(indicators)
    drawing = Drawing(174 * mm, height + 20)
    chart = HorizontalBarChart()
    chart.x, chart.y = 64 * mm, 15
    chart.width, chart.height = 100 * mm, height
    chart.data = [ratios]
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max([120.0, *ratios]) + 10
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [_short(_indicator_name(i, language), 44) for i in indicators]
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
    drawing.add(String(at_limit + 2, chart.y + chart.height + 4, _("limit"), fontSize=7, fillColor=colors.red))
    return drawing


def _short(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _indicator_name(indicator: dict[str, Any], language: Language) -> str:
    return _malay_or_english(indicator["name"], indicator.get("name_ms"), language)


def _step_texts(content: dict[str, Any], language: Language) -> Callable[[dict[str, Any]], str]:
    """A step done, as the plan wrote it in the reader's language (steps done carry the plan's
    English text; a step the plan does not hold, or holds without Malay, stays as done)."""
    plan_steps = (content.get("plan") or {}).get("steps", [])
    malay = {(s["sequence"], s["description"]): s.get("description_ms") for s in plan_steps}

    def text(step: dict[str, Any]) -> str:
        return _malay_or_english(step["description"], malay.get((step["sequence"], step["description"])), language)

    return text


def _signed_for(signature: dict[str, Any]) -> str:
    if signature["signed_for"] == "plan_approval":
        return _("Maintenance plan approval (revision %(revision)s)", revision=signature.get("plan_revision"))
    return _("Acceptance of the work done (round %(round)s)", round=signature.get("round"))


def _signature_image(image: bytes | None) -> Table:
    """The drawn signature in a frame of a fixed size (or why it is not shown)."""
    if image is None:
        shown: Any = _p(_("Signature image missing or failed its check."), SMALL)
    else:
        width, height = ImageReader(io.BytesIO(image)).getSize()
        scale = min(SIGNATURE_BOX[0] / width, SIGNATURE_BOX[1] / height)
        shown = Image(io.BytesIO(image), width=width * scale, height=height * scale, mask="auto")
    frame = Table([[shown]], colWidths=[SIGNATURE_BOX[0] + 6 * mm], rowHeights=[SIGNATURE_BOX[1] + 6 * mm])
    frame.setStyle(FRAME)
    return frame


def _hash(value: str) -> Paragraph:
    """A SHA-256 in two halves: readable, and never cut at an arbitrary place."""
    return Paragraph(f"{value[:32]}<br/>{value[32:]}", HASH)


def signatures_section(content: dict[str, Any], images: dict[str, bytes]) -> list[Any]:
    """Each signature: the drawn image beside who signed, their position, when and for what."""
    story: list[Any] = [_p(_("Signatures"), H2)]
    signatures = content.get("signatures") or []
    if not signatures:
        return [*story, _p(_("No signature was collected for this job."), BODY)]
    for signature in signatures:
        details = [
            (_("Signer"), signature["signer"]["name"]),
            (_("Position"), signature["signer"]["role"]),
            (_("Signed on"), _when(signature["signed_at"])),
            (_("Signed for"), _signed_for(signature)),
        ]
        if signature.get("collected_by"):
            details.append((_("Collected by"), signature["collected_by"]["name"]))
        rows = [[_p(k, HEAD), _p(v, CELL)] for k, v in details]
        rows.append([_p(_("SHA-256 of what was signed"), HEAD), _hash(signature["content_sha256"])])
        facts = Table(rows, colWidths=[36 * mm, 62 * mm])  # inside the cell's padding
        facts.setStyle(PAIRS)
        box = Table(
            [[_signature_image(images.get(signature["signature_id"])), facts]],
            colWidths=[SIGNATURE_BOX[0] + 10 * mm, 102 * mm],
        )
        box.setStyle(SIGNATURE)
        story += [KeepTogether([box]), Spacer(1, 6)]
    return story


def _footer(job_id: str, version: int) -> Callable[[Canvas, BaseDocTemplate], None]:
    title = _("Maintenance report %(job)s, version %(version)s", job=job_id, version=version)
    page_word = _("Page")

    def draw(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(FOOTER_GREY)
        canvas.drawString(18 * mm, 9 * mm, title)
        canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"{page_word} {doc.page}")
        canvas.restoreState()

    return draw


def render_report(record: dict[str, Any], language: Language, images: dict[str, bytes] | None = None) -> bytes:
    """The report PDF of one record version in `language`; `images` are the verified signature
    images by signature id (a signature without one says its image failed its check)."""
    with speaking(language):
        return _render(record, language, images or {})


def _render(record: dict[str, Any], language: Language, images: dict[str, bytes]) -> bytes:
    content = record["content"]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=_("Maintenance report %(job)s", job=content["job_id"]),
        author=_("Air compressor after-sales service"),
        subject=_("Record %(record)s version %(version)s", record=record["record_id"], version=record["version"]),
        creator="reporting service",
        lang="ms-MY" if language is Language.MS else "en-MY",
        invariant=1,
    )
    equipment, customer, site = content["equipment"], content["customer"], content["site"]
    dates_ = content["dates"]
    step_text = _step_texts(content, language)
    story: list[Any] = [
        _p(_("Maintenance report"), H1),
        _p(
            _(
                "Job %(job)s · record %(record)s · version %(version)s · service date %(date)s",
                job=content["job_id"],
                record=record["record_id"],
                version=record["version"],
                date=_day(dates_["inspection_passed_at"]),
            ),
            SMALL,
        ),
        _p(_("All times are Malaysia time (MYT)."), SMALL),
    ]
    if record.get("correction"):
        story.append(_p(_("Corrected version: %(reason)s", reason=record["correction"]["reason"]), SMALL))
    if record.get("signature_added"):
        story.append(
            _p(
                _("This version adds the signature of %(name)s.", name=record["signature_added"]["signer"]["name"]),
                SMALL,
            )
        )
    story += [
        _p(_("Job summary"), H2),
        _pairs(
            [
                (_("Job"), content["job_id"]),
                (_("Customer"), f"{customer['name']} ({customer['customer_id']})"),
                (_("Site"), f"{site['name']}, {site['address']}, {site['city']}"),
                (_("Reported fault"), content["fault_description"]),
                (_("Priority"), _capital(_word(PRIORITIES, content["priority"]))),
                (_("Engineer"), f"{content['engineer']['name']} ({content['engineer']['engineer_id']})"),
                (_("Requested"), _when(dates_["requested_at"])),
                (_("Engineer on site"), _when(dates_["arrived_at"])),
                (_("Inspection passed"), _when(dates_["inspection_passed_at"])),
            ]
        ),
        _p(_("Equipment"), H2),
        _pairs(
            [
                (_("Model"), f"{equipment['brand']} {equipment['model']} ({equipment['model_code']})"),
                (_("Type"), _capital(_word(COMPRESSOR_TYPES, equipment["compressor_type"]))),
                (_("Serial number"), equipment["serial_number"]),
                (_("Running hours"), _running_hours(content)),
            ]
        ),
        _p(_("Cause of failure and repair method"), H2),
        _pairs(
            [
                (_("Cause of failure"), content["root_cause"]),
                (_("Cause class"), _capital(_word(FAILURE_CATEGORIES, content["failure_category"]))),
                (_("Scope"), content["diagnosis"]["scope"]),
                (_("Repair method"), content["repair_method"]),
            ]
        ),
        _p(_("Work done"), H2),
    ]
    single = len(content["rounds"]) == 1
    for r in content["rounds"]:
        if single:
            title = _("Work")
        elif r["round"] > 1:
            title = _("Round %(round)s (rework)", round=r["round"])
        else:
            title = _("Round %(round)s", round=r["round"])
        story.append(_p(f"{title}: {r['repair_method']} ({_hours(r['labour_hours'] * 3600)})", BODY))
        story.append(
            _grid(
                ["#", _("Step"), _("Completed")],
                [[s["sequence"], step_text(s), _when(s["completed_at"])] for s in r["steps_done"]],
                [10 * mm, 119 * mm, 45 * mm],
            )
        )
        story.append(Spacer(1, 4))
    story.append(_p(_("Parts and materials used"), H2))
    parts = content["parts_used"]
    story.append(
        _grid(
            [_("Part number"), _("Description"), _("Quantity"), _("In plan")],
            [
                [
                    p["part_number"],
                    p["description"],
                    _quantity(p["quantity"], p["unit"]),
                    _("yes") if p["in_plan"] else _("no"),
                ]
                for p in parts
            ]
            or [["-", _("no parts used"), "", ""]],
            [34 * mm, 90 * mm, 25 * mm, 25 * mm],
        )
    )
    story.append(_p(_("Inspection results against limits"), H2))
    for r in content["rounds"]:
        inspection = r["inspection"]
        verdict = {True: _("passed"), False: _("failed"), None: _("not inspected")}[inspection["passed"]]
        story.append(_p(_("Round %(round)s: %(verdict)s", round=r["round"], verdict=verdict), BODY))
        rows = []
        for i in inspection["indicators"]:
            name: Any = _indicator_name(i, language)
            action = _malay_or_english(i.get("corrective_action"), i.get("corrective_action_ms"), language)
            if not i["passed"] and action:  # what the rework had to correct, under the indicator
                note = _("Corrective action: %(action)s", action=action)
                name = Paragraph(f"{escape(name)}<br/><font size='7.5' color='#555555'>{escape(note)}</font>", CELL)
            rows.append(
                [
                    name,
                    f"{_number(i['value'])} {i['unit']}",
                    f"{_limits(i)} {i['unit']}",
                    _("pass") if i["passed"] else _("FAIL"),
                ]
            )
        story.append(
            _grid([_("Indicator"), _("Value"), _("Limits"), _("Result")], rows, [84 * mm, 30 * mm, 38 * mm, 22 * mm])
        )
        story.append(Spacer(1, 4))
    final = content["rounds"][-1]["inspection"]["indicators"]
    if final:
        story += [_p(_("Final indicators as a percentage of their limit"), BODY), indicator_chart(final, language)]
    story.append(_p(_("Time spent"), H2))
    story.append(
        _grid(
            [_("Phase"), _("Round"), _("Time")],
            [
                [f"{s['phase']}. {_capital(_(PHASE_NAMES[s['phase']]))}", s["round"] or "", _hours(s["seconds"])]
                for s in content["phases"]
            ],
            [94 * mm, 30 * mm, 50 * mm],
        )
    )
    story.append(Spacer(1, 4))
    story.append(
        _pairs(
            [
                (_("Labour hours"), _hours(content["labour_hours"] * 3600)),
                (_("Request to passed inspection"), _hours(content["elapsed_seconds"])),
                (_("Inspection rounds"), _number(content["inspection_rounds"])),
            ]
        )
    )
    story.append(_p(_("Service commitment"), H2))
    commitment = content.get("commitment")
    story.append(
        _pairs(
            [
                (_("Arrive by"), f"{_when(commitment['arrive_by'])} - {_kept(content['arrive_by_met'])}"),
                (_("Resolve by"), f"{_when(commitment['resolve_by'])} - {_kept(content['resolve_by_met'])}"),
            ]
            if commitment
            else [(_("Commitment"), _("no commitment was recorded"))]
        )
    )
    story += signatures_section(content, images)
    footer = _footer(content["job_id"], record["version"])
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
