"""What the customer signs on the engineer's phone, and the form as maintenance's request. Pure.

Two moments: a plan revision proposed and awaiting a decision (the customer on site approves it with
a signature), and the work whose quality inspection passed, not yet accepted. The form's fields carry
the API's names (`signature.signer.name`, `signature.signer.role`, `signature.image`) so that a
refusal lands beside its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from console_service.texts import _

SignedFor = Literal["plan_approval", "work_acceptance"]
PLAN_APPROVAL: SignedFor = "plan_approval"
WORK_ACCEPTANCE: SignedFor = "work_acceptance"
SIGNATURE_FIELDS = ("signature.signer.name", "signature.signer.role", "signature.image")


@dataclass(frozen=True)
class ToSign:
    signed_for: SignedFor
    plan: Mapping[str, Any] | None = None
    """The plan revision to approve (for a plan approval)."""
    round: int | None = None
    """The round whose inspection passed (for a work acceptance)."""


def to_sign(order: Mapping[str, Any]) -> ToSign | None:
    """What the customer can sign now, if anything: the work first (once inspected), else a proposed plan."""
    passed = order.get("inspection_passed") or None
    if passed:
        accepted = {s.get("round") for s in order.get("signatures") or [] if s.get("signed_for") == WORK_ACCEPTANCE}
        if passed.get("round") not in accepted:
            return ToSign(WORK_ACCEPTANCE, round=passed.get("round"))
    plans = order.get("plans") or []
    if order.get("status") == "plan_proposed" and plans and plans[-1].get("status") == "proposed":
        return ToSign(PLAN_APPROVAL, plan=plans[-1])
    return None


def missing(values: Mapping[str, str]) -> dict[str, str]:
    """The form's own check before calling maintenance: the signer and a drawing."""
    errors: dict[str, str] = {}
    if not values.get("signature.signer.name", "").strip():
        errors["signature.signer.name"] = _("Give the name of the person signing.")
    if not values.get("signature.signer.role", "").strip():
        errors["signature.signer.role"] = _("Give the signer's role, for example plant manager.")
    if not values.get("signature.image", "").strip():
        errors["signature.image"] = _("Sign in the box first.")
    return errors


def request_of(signed_for: str, values: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The maintenance path (after /work-orders/{job_id}) and body for the signed form."""
    signature = {
        "signer": {
            "name": values.get("signature.signer.name", "").strip(),
            "role": values.get("signature.signer.role", "").strip(),
        },
        "image": values.get("signature.image", "").strip(),
    }
    if signed_for == PLAN_APPROVAL:
        body: dict[str, Any] = {"signature": signature}
        if values.get("comments", "").strip():
            body["comments"] = values["comments"].strip()
        return f"/plans/{int(values.get('revision', '0'))}/approve", body
    return "/signatures", {**signature, "round": int(values.get("round", "0"))}


def form_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Maintenance's field names as the form's: a work acceptance names `image`, `signer.name`, ...;
    a missing signature (`signature`) is shown at the drawing."""
    named: dict[str, str] = {}
    for name, message in errors.items():
        if name in ("image", "signature") or name.startswith("signer"):
            name = "signature.image" if name in ("image", "signature") else f"signature.{name}"
        named[name] = message
    return named
