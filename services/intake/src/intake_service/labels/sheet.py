"""The printable sheet of a site's machine labels: A4, ten labels a page (2 x 5), each with the QR code
of the machine's scan page, the model, the serial, the site and the line "Imbas untuk servis / Scan
for service". Pure: labels in, PDF bytes out."""

from __future__ import annotations

import io

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from intake_service.labels.domain import SCAN_LINE, Label

COLUMNS, ROWS = 2, 5
LABEL_WIDTH, LABEL_HEIGHT = 92 * mm, 52 * mm
QR_SIZE = 44 * mm
PADDING = 4 * mm
GREY = HexColor("#9aa3ad")
INK = HexColor("#1b2430")


def qr_drawing(url: str, size: float) -> Drawing:
    """The QR code of `url` (error correction M: a label gets dirty), `size` points square, its quiet zone
    included."""
    widget = QrCodeWidget(url, barLevel="M", barBorder=2)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def _fitted(text: str, font: str, size: float, width: float) -> str:
    """`text` shortened with an ellipsis until it fits `width`."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _label(canvas: Canvas, label: Label, x: float, y: float) -> None:
    """One label with its lower left corner at (x, y)."""
    canvas.setStrokeColor(GREY)
    canvas.setLineWidth(0.5)
    canvas.setDash(2, 2)  # where to cut
    canvas.roundRect(x, y, LABEL_WIDTH, LABEL_HEIGHT, 3 * mm)
    canvas.setDash()
    qr_y = y + (LABEL_HEIGHT - QR_SIZE) / 2
    renderPDF.draw(qr_drawing(label.url, QR_SIZE), canvas, x + PADDING / 2, qr_y)
    text_x = x + QR_SIZE + PADDING
    width = LABEL_WIDTH - QR_SIZE - PADDING * 1.5
    canvas.setFillColor(INK)
    top = y + LABEL_HEIGHT - PADDING - 10
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(text_x, top, _fitted(label.model, "Helvetica-Bold", 11, width))
    canvas.setFont("Helvetica", 8.5)
    canvas.drawString(text_x, top - 12, _fitted(label.brand, "Helvetica", 8.5, width))
    canvas.setFont("Helvetica", 7)
    canvas.drawString(text_x, top - 26, "S/N")
    canvas.setFont("Courier-Bold", 10.5)
    canvas.drawString(text_x, top - 37, _fitted(label.serial_number, "Courier-Bold", 10.5, width))
    canvas.setFont("Helvetica", 7)
    canvas.drawString(text_x, top - 51, _fitted(label.site_name, "Helvetica", 7, width))
    canvas.setFont("Helvetica-Bold", 7.5)
    malay, _, english = SCAN_LINE.partition(" / ")
    canvas.drawString(text_x, y + PADDING + 9, malay + " /")
    canvas.drawString(text_x, y + PADDING, english)


def label_sheet(labels: list[Label], *, title: str) -> bytes:
    """The PDF of `labels`, ten a page; a site without machines gets one page saying so."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor("Compressor Service")
    page_width, page_height = A4
    left = (page_width - COLUMNS * LABEL_WIDTH) / 2
    bottom = (page_height - ROWS * LABEL_HEIGHT) / 2
    per_page = COLUMNS * ROWS
    if not labels:
        canvas.setFont("Helvetica", 12)
        canvas.drawString(left, page_height - bottom, "Tiada mesin di tapak ini / No machines at this site")
    for index, label in enumerate(labels):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        row, column = divmod(slot, COLUMNS)
        _label(canvas, label, left + column * LABEL_WIDTH, page_height - bottom - (row + 1) * LABEL_HEIGHT)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
