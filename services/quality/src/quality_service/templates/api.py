"""Read-only HTTP access to the inspection templates, for inspectors preparing their instruments."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath

from compressor_contracts import StaffRole
from compressor_kit.auth import requires
from compressor_kit.refusals import Refusal
from quality_service.templates.catalogue import TEMPLATES
from quality_service.templates.domain import InspectionTemplate

TAGS = ["Inspection templates"]


@get(
    "/inspection-templates",
    **requires(StaffRole.INSPECTOR),
    operation_id="ListInspectionTemplates",
    sync_to_thread=False,
    tags=TAGS,
)
def list_templates() -> list[InspectionTemplate]:
    """Every template: generic ones per compressor type and model-specific ones (by catalogue model code)."""
    return TEMPLATES.all()


@get(
    "/inspection-templates/{template_id:str}",
    **requires(StaffRole.INSPECTOR),
    operation_id="GetInspectionTemplate",
    sync_to_thread=False,
    tags=TAGS,
)
def get_template(template_id: FromPath[str]) -> InspectionTemplate:
    template = TEMPLATES.by_id.get(template_id)
    if template is None:
        raise Refusal.not_found(f"no inspection template {template_id!r}", field="template_id")
    return template


ROUTES = [list_templates, get_template]
