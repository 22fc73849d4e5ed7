"""The pure rules of signatures: what a drawn PNG is, the canonical hash of what is signed, who signs when."""

import base64
import hashlib
import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from compressor_contracts.common import CustomerRepresentative, StoredObject
from compressor_contracts.events.maintenance import SignedFor
from compressor_contracts.examples import EQUIPMENT
from compressor_kit.refusals import Refusal, RefusalKind
from maintenance_service.parts.domain import CATALOGUE
from maintenance_service.planning.api import PROCEDURES
from maintenance_service.planning.domain import PlanDraft, build_plan, propose
from maintenance_service.signatures.domain import (
    MAX_IMAGE_BYTES,
    acceptable_round,
    approval_signature_collector,
    content_sha256,
    image_key,
    plan_facts,
    require_current_revision,
    sign,
    signature_png,
    work_facts,
)
from maintenance_service.work_orders.domain import (
    Round,
    RoundStatus,
    Status,
    WorkOrder,
    record_inspection_passed,
)

from .signing import data_url
from .signing import signature_png as drawn_png
from .test_domain import ENG, NOW, approved_order, opened, refusal

INVALID, CONFLICT, FORBIDDEN = RefusalKind.INVALID, RefusalKind.CONFLICT, RefusalKind.FORBIDDEN
SIGNER = CustomerRepresentative(name="Encik Faizal Hassan", role="Plant manager")
IMAGE = StoredObject(
    bucket="maintenance-signatures", object_key="JOB-1/signatures/SIG-1.png", sha256="0" * 64, size_bytes=10,
    content_type="image/png",
)  # fmt: skip


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- the image ------------------------------------------------------------------------------------


def test_a_drawn_png_is_accepted_as_it_was_sent():
    drawn = drawn_png()
    assert signature_png(data_url(drawn)) == drawn


def test_one_visible_pixel_is_a_signature_in_any_png_mode():
    for mode, ink in (("RGBA", (0, 0, 0, 255)), ("LA", (0, 255)), ("RGB", (0, 0, 0)), ("L", 0)):
        background = (255,) * len(ink) if isinstance(ink, tuple) else 255
        if mode in ("RGBA", "LA"):
            background = (0,) * len(ink)  # transparent, as signature_pad's canvas
        image = Image.new(mode, (40, 20), background)
        image.putpixel((5, 5), ink)
        assert signature_png(data_url(png(image)))


@pytest.mark.parametrize(
    "blank",
    [
        Image.new("RGBA", (300, 120), (0, 0, 0, 0)),  # signature_pad's blank canvas
        Image.new("RGBA", (300, 120), (255, 0, 0, 0)),  # invisible colour
        Image.new("RGB", (300, 120), (255, 255, 255)),  # a white background, nothing on it
        Image.new("RGBA", (300, 120), (16, 35, 63, 255)),  # all ink is no signature either
    ],
)
def test_a_canvas_with_nothing_drawn_is_empty(blank):
    error = refusal(lambda: signature_png(data_url(png(blank))), INVALID, "signature.image")
    assert "empty" in error.detail


def test_the_size_limit_is_on_the_decoded_png_and_named_in_the_refusal():
    large = b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_IMAGE_BYTES
    error = refusal(lambda: signature_png(data_url(large), field="image"), INVALID, "image")
    assert "200 kB" in error.detail


@pytest.mark.parametrize(
    "url",
    [
        "data:image/jpeg;base64,/9j/4AAQ",
        "https://example.com/signature.png",
        "data:image/png;base64,not base64!",
        data_url(b"GIF89a..."),
        data_url(drawn_png()[:50]),  # cut short
        data_url(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10),
    ],
)
def test_anything_but_a_readable_png_data_url_is_refused(url):
    refusal(lambda: signature_png(url), INVALID, "signature.image")


def test_too_many_pixels_are_refused_before_they_are_decompressed():
    huge = png(Image.new("1", (2500, 2000), 0))  # 5 megapixels, tiny when compressed
    assert len(huge) < MAX_IMAGE_BYTES
    refusal(lambda: signature_png(data_url(huge)), INVALID, "signature.image")


# --- what is signed ---------------------------------------------------------------------------------


def test_the_content_hash_is_sha256_of_canonical_json():
    facts = {"b": [1, 2.5, None], "a": "Pemampat udara — ß"}
    canonical = '{"a":"Pemampat udara — ß","b":[1,2.5,null]}'.encode()
    assert content_sha256(facts) == hashlib.sha256(canonical).hexdigest()
    assert content_sha256(dict(reversed(list(facts.items())))) == content_sha256(facts)


def test_the_plan_hash_covers_its_steps_parts_hours_and_standards():
    order = approved_order()
    plan = order.plan(1)
    base = content_sha256(plan_facts(order.job_id, plan))
    assert base == content_sha256(plan_facts(order.job_id, plan.model_copy()))
    changes = [
        {"steps": plan.steps[:-1]},
        {"parts": plan.parts[:-1]},
        {"estimated_hours": plan.estimated_hours + 0.5},
        {"standards": [*plan.standards, "ISO 8573-1"]},
        {"revision": 2},
    ]
    for change in changes:
        assert content_sha256(plan_facts(order.job_id, plan.model_copy(update=change))) != base, change
    assert content_sha256(plan_facts("JOB-OTHER", plan)) != base


def worked(order: WorkOrder) -> WorkOrder:
    """Round 1 completed (as execution leaves it), awaiting its inspection."""
    work = order.plan(1)
    finished = Round(
        round=1, plan_revision=work.revision, steps=work.steps, status=RoundStatus.COMPLETED, labour_hours=3.0,
        repair_method="Replaced the valve element.", completed_at=NOW,
    )  # fmt: skip
    return order.model_copy(update={"rounds": [finished], "status": Status.AWAITING_INSPECTION})


def test_the_work_hash_covers_the_rounds_hours_and_the_passed_round():
    order = worked(approved_order())
    base = content_sha256(work_facts(order, 1))
    more_hours = order.model_copy(update={"rounds": [order.rounds[0].model_copy(update={"labour_hours": 4.0})]})
    assert content_sha256(work_facts(more_hours, 1)) != base
    assert work_facts(order, 1)["labour_hours"] == 3.0
    assert work_facts(order, 1)["inspection_passed_round"] == 1


# --- who signs, and when ------------------------------------------------------------------------------


def test_a_customer_signs_an_approval_a_manager_need_not_an_engineer_must_collect_it():
    order = proposed_twice()
    roles = frozenset
    error = refusal(lambda: approval_signature_collector(order, "CUST-0107", roles({"customer"}), 2, False), INVALID)
    assert error.field == "signature"
    assert approval_signature_collector(order, "CUST-0107", roles({"customer"}), 2, True) is None
    assert approval_signature_collector(order, "u-manager", roles({"manager"}), 2, False) is None
    refusal(lambda: approval_signature_collector(order, ENG, roles({"engineer"}), 2, False), INVALID, "signature")
    assert approval_signature_collector(order, ENG, roles({"engineer"}), 2, True).engineer_id == ENG
    refusal(lambda: approval_signature_collector(order, "ENG-999", roles({"engineer"}), 2, True), FORBIDDEN)


def proposed_twice() -> WorkOrder:
    order = opened().model_copy(update={"status": Status.DIAGNOSED})
    procedure = PROCEDURES["PROC-GA-VSD-OILCIRCUIT"]
    _, steps, parts, hours, standards = build_plan(
        PlanDraft(procedure_id=procedure.procedure_id), EQUIPMENT, PROCEDURES, CATALOGUE
    )
    for _ in range(2):
        order, _ = propose(order, ENG, procedure, steps, parts, hours, standards, [], NOW)
    return order


def test_a_signature_covers_only_the_current_plan_revision():
    order = proposed_twice()
    error = refusal(lambda: require_current_revision(order, 1), INVALID, "revision")
    assert "no longer current" in error.detail
    assert require_current_revision(order, 2).revision == 2
    refusal(lambda: require_current_revision(order, 9), RefusalKind.NOT_FOUND, "revision")


def test_the_plan_signature_records_its_hash_and_the_event_says_the_same():
    order = proposed_twice()
    signed, event = sign(
        order, signature_id="SIG-1", signed_for=SignedFor.PLAN_APPROVAL, signer=SIGNER, image=IMAGE, user_id=ENG,
        collected_by=order.engineer, now=NOW, plan_revision=2,
    )  # fmt: skip
    [kept] = signed.signatures
    assert kept.content_sha256 == event.content_sha256 == content_sha256(plan_facts(order.job_id, order.plan(2)))
    assert (event.plan_revision, event.round, event.signed_for) == (2, None, SignedFor.PLAN_APPROVAL)
    assert event.collected_by == order.engineer and kept.recorded_by_user == ENG


def test_the_work_is_accepted_once_after_its_inspection_passed():
    order = worked(approved_order())
    refusal(lambda: acceptable_round(order, ENG, None), CONFLICT, "status")
    assert record_inspection_passed(order, 2, NOW) == order  # another round's result
    passed = record_inspection_passed(order, 1, NOW)
    assert record_inspection_passed(passed, 1, datetime(2026, 3, 3, tzinfo=UTC)) == passed  # redelivered
    refusal(lambda: acceptable_round(passed, "ENG-999", None), FORBIDDEN)
    refusal(lambda: acceptable_round(passed, ENG, 2), INVALID, "round")
    engineer, round_ = acceptable_round(passed, ENG, 1)
    assert (engineer.engineer_id, round_) == (ENG, 1)
    accepted, event = sign(
        passed, signature_id="SIG-2", signed_for=SignedFor.WORK_ACCEPTANCE, signer=SIGNER, image=IMAGE, user_id=ENG,
        collected_by=engineer, now=NOW, round_=1,
    )  # fmt: skip
    assert event.content_sha256 == content_sha256(work_facts(passed, 1))
    refusal(lambda: acceptable_round(accepted, ENG, None), CONFLICT, "round")


def test_an_image_key_is_derived_from_the_signature_id():
    assert image_key("JOB-1", "SIG-abc") == "JOB-1/signatures/SIG-abc.png"


def test_base64_is_checked_strictly():
    with pytest.raises(Refusal):
        signature_png("data:image/png;base64," + base64.b64encode(drawn_png()).decode() + "$$")
