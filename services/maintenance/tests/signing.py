"""Signatures as the phone or the portal sends them, for the tests."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw

SIGNER = {"name": "Puan Aminah binti Rahman", "role": "Plant maintenance lead"}


def signature_png(drawn: bool = True, size: tuple[int, int] = (360, 140)) -> bytes:
    """A PNG as signature_pad gives it: transparent, with a stroke when `drawn`."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if drawn:
        ImageDraw.Draw(image).line([(20, 100), (90, 30), (160, 110), (300, 40)], fill=(16, 35, 63, 255), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def signature(png: bytes | None = None, signer: dict | None = None) -> dict:
    """A signature as the phone or the portal sends it."""
    return {"signer": signer or SIGNER, "image": data_url(png if png is not None else signature_png())}
