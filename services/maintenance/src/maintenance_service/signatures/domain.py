"""Signatures: the customer's responsible person signs a plan approval or accepts the inspected work. Pure.

What is signed is fixed by a hash: the SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8)
of the plan revision's facts, or of the work's final facts. The drawn image must be a PNG with at
least one drawn pixel and at most `MAX_IMAGE_BYTES`; it is stored before the transaction that records
the signature, under a key derived from the signature id.

Who signs how:
- a customer approving in the portal signs;
- the job's assigned engineer may approve on site only with the customer's signature on the phone;
- a manager recording the customer's decision given by phone needs no signature;
- the work is accepted once its inspection passed, on the assigned engineer's phone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts.common import CustomerRepresentative, Engineer, StoredObject
from compressor_contracts.events.maintenance import JobSigned, SignedFor
from compressor_kit.refusals import Refusal
from maintenance_service.texts import _
from maintenance_service.work_orders.domain import Plan, Signature, WorkOrder

PNG_DATA_URL = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_BYTES = 200_000
"""The decoded PNG's limit: a phone's signature box exported at 900 px wide is 10-60 kB."""
MAX_IMAGE_PIXELS = 4_000_000
"""Width times height limit, checked before the pixels are decompressed."""
MAX_DATA_URL_CHARS = 1_500_000
"""The request's own cap (about 1.1 MB of PNG): anything between the limit and this is refused by
`signature_png` with the limit in its message; beyond it, the request is refused as too long."""
IMAGE_DESCRIPTION = (
    "The drawn signature as a data URL: data:image/png;base64,... A PNG with at least one drawn pixel "
    f"(a blank, fully transparent or one-colour canvas is refused), at most {MAX_IMAGE_BYTES // 1000} kB "
    f"decoded and {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
)
SIGNER_EXAMPLE: dict[str, Any] = {"name": "Encik Faizal Hassan", "role": "Plant manager"}
IMAGE_EXAMPLE = (
    PNG_DATA_URL + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkaPhfDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class SignatureDraft(BaseModel):
    """A signature as drawn on the phone or in the portal: the signer and the image."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"signer": SIGNER_EXAMPLE, "image": IMAGE_EXAMPLE}]}
    )

    signer: CustomerRepresentative = Field(description="Who signs: their name and position at the customer.")
    image: str = Field(min_length=1, max_length=MAX_DATA_URL_CHARS, description=IMAGE_DESCRIPTION)


# --- the image ------------------------------------------------------------------------------------


def signature_png(data_url: str, field: str = "signature.image") -> bytes:
    """The PNG in a data URL, if it is one with a drawn signature within the limits; else a refusal on `field`."""
    if not data_url.startswith(PNG_DATA_URL):
        raise Refusal.invalid(_("The signature must be a PNG image (data:image/png;base64,...)."), field=field)
    try:
        png = base64.b64decode(data_url[len(PNG_DATA_URL) :], validate=True)
    except (binascii.Error, ValueError):
        raise Refusal.invalid(_("The signature image is not valid base64."), field=field) from None
    if len(png) > MAX_IMAGE_BYTES:
        raise Refusal.invalid(
            _(
                "The signature image is too large: %(size)s kB, at most %(limit)s kB.",
                size=len(png) // 1000,
                limit=MAX_IMAGE_BYTES // 1000,
            ),
            field=field,
        )
    if not png.startswith(PNG_MAGIC):
        raise Refusal.invalid(_("The signature must be a PNG image (data:image/png;base64,...)."), field=field)
    drawn = _drawn(png)
    if drawn is None:
        raise Refusal.invalid(_("The signature image is not a readable PNG."), field=field)
    if not drawn:
        raise Refusal.invalid(_("The signature is empty: sign in the box first."), field=field)
    return png


def _drawn(png: bytes) -> bool | None:
    """Whether anything is drawn: some pixel visible and not every pixel alike; None when unreadable or
    too many pixels. A blank signature_pad canvas is fully transparent."""
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                return None
            rgba = image.convert("RGBA")
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
    # Per band (R, G, B, A): the lowest and highest value over all pixels.
    extrema = cast(tuple[tuple[int, int], ...], rgba.getextrema())
    if extrema[3][1] == 0:
        return False  # every pixel transparent
    return any(low != high for low, high in extrema)


# --- what is signed ---------------------------------------------------------------------------------


def content_sha256(facts: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of `facts`: sorted keys, no spaces, UTF-8."""
    canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def plan_facts(job_id: str, plan: Plan) -> dict[str, Any]:
    """A plan revision as approved: its steps, parts, estimated hours and standards."""
    return {
        "job_id": job_id,
        "signed_for": SignedFor.PLAN_APPROVAL.value,
        "revision": plan.revision,
        "procedure_id": plan.procedure_id,
        "steps": [step.model_dump(mode="json") for step in plan.steps],
        "parts": [part.model_dump(mode="json") for part in plan.parts],
        "estimated_hours": plan.estimated_hours,
        "standards": list(plan.standards),
    }


def work_facts(order: WorkOrder, passed_round: int) -> dict[str, Any]:
    """The work's final facts: every round's steps done and skipped, parts used and labour hours, and the
    round whose inspection passed."""
    rounds = [r for r in order.rounds if r.round <= passed_round]
    return {
        "job_id": order.job_id,
        "signed_for": SignedFor.WORK_ACCEPTANCE.value,
        "inspection_passed_round": passed_round,
        "rounds": [
            {
                "round": r.round,
                "plan_revision": r.plan_revision,
                "steps_done": [s.model_dump(mode="json") for s in r.steps_done],
                "skipped": [s.model_dump(mode="json") for s in r.skipped],
                "parts_used": [p.model_dump(mode="json") for p in r.parts_used],
                "labour_hours": r.labour_hours,
                "repair_method": r.repair_method,
            }
            for r in rounds
        ],
        "labour_hours": sum(r.labour_hours or 0 for r in rounds),
    }


# --- who signs, and when ------------------------------------------------------------------------------


def approval_signature_collector(
    order: WorkOrder, user_id: str, roles: frozenset[str], revision: int, signed: bool
) -> Engineer | None:
    """Checks a plan approval's signature rules (the approver's right to decide is checked by planning);
    returns the engineer on whose phone the customer signs, None in the portal or for a manager."""
    if "manager" in roles:
        collector = None
    elif "customer" in roles:
        if not signed:
            raise Refusal.invalid(_("The customer's approval must be signed."), field="signature")
        collector = None
    else:
        collector = order.require_engineer(user_id)
        if not signed:
            raise Refusal.invalid(
                _("On site, a plan is approved only with the customer's signature."), field="signature"
            )
    if signed:
        require_current_revision(order, revision)
    return collector


def require_current_revision(order: WorkOrder, revision: int) -> Plan:
    """The plan revision being signed must be the current one (a signature never covers an older plan)."""
    plan = order.plan(revision)
    current = order.current_plan
    if current is not None and current.revision != revision:
        raise Refusal.invalid(
            _(
                "Plan revision %(revision)s is no longer current: revision %(current)s replaced it.",
                revision=revision,
                current=current.revision,
            ),
            field="revision",
        )
    return plan


def acceptable_round(order: WorkOrder, user_id: str, round_: int | None) -> tuple[Engineer, int]:
    """The assigned engineer collects the acceptance of the round whose inspection passed, once."""
    order.require_active()
    engineer = order.require_engineer(user_id)
    passed = order.inspection_passed
    if passed is None:
        raise Refusal.conflict(
            _("The customer accepts the work once its quality inspection passed; it has not passed yet."),
            field="status",
        )
    if round_ is not None and round_ != passed.round:
        raise Refusal.invalid(
            _(
                "Round %(round)s is not the round whose inspection passed (%(passed)s).",
                round=round_,
                passed=passed.round,
            ),
            field="round",
        )
    if any(s.signed_for == SignedFor.WORK_ACCEPTANCE and s.round == passed.round for s in order.signatures):
        raise Refusal.conflict(
            _("The work of round %(round)s is already accepted and signed.", round=passed.round), field="round"
        )
    return engineer, passed.round


def image_key(job_id: str, signature_id: str) -> str:
    """Where a signature's image is kept in maintenance's signatures bucket."""
    return f"{job_id}/signatures/{signature_id}.png"


def sign(
    order: WorkOrder,
    *,
    signature_id: str,
    signed_for: SignedFor,
    signer: CustomerRepresentative,
    image: StoredObject,
    user_id: str,
    collected_by: Engineer | None,
    now: datetime,
    plan_revision: int | None = None,
    round_: int | None = None,
) -> tuple[WorkOrder, JobSigned]:
    """Records the signature with the hash of what it covers; the caller publishes the event with the change."""
    if signed_for == SignedFor.PLAN_APPROVAL:
        assert plan_revision is not None
        facts = plan_facts(order.job_id, require_current_revision(order, plan_revision))
    else:
        assert round_ is not None
        facts = work_facts(order, round_)
    signature = Signature(
        signature_id=signature_id,
        signed_for=signed_for,
        plan_revision=plan_revision,
        round=round_,
        signer=signer,
        signed_at=now,
        content_sha256=content_sha256(facts),
        image=image,
        collected_by=collected_by,
        recorded_by_user=user_id,
    )
    event = JobSigned(
        job_id=order.job_id,
        signature_id=signature_id,
        signed_for=signed_for,
        plan_revision=plan_revision,
        round=round_,
        signer=signer,
        signed_at=now,
        content_sha256=signature.content_sha256,
        image=image,
        collected_by=collected_by,
    )
    return order.model_copy(update={"signatures": [*order.signatures, signature]}), event
