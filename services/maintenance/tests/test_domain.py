"""The pure rules: work-order state machine, plan validation, stock decisions, rounds and rework."""

from datetime import UTC, datetime, timedelta

import pytest

from compressor_contracts.common import CompressorType, Engineer, Language, PartLine, PartUsed
from compressor_contracts.events.quality import JobInspectionFailed
from compressor_contracts.examples import EQUIPMENT, INSPECTOR, ROUND1, example
from compressor_kit.refusals import Refusal, RefusalKind
from maintenance_service.execution.domain import (
    AddedStep,
    CompletionDraft,
    PartUsedDraft,
    complete_step,
    complete_work,
    next_step,
    progress_message,
    reopen_for_rework,
    rework_steps,
    skip_step,
    start_work,
)
from maintenance_service.parts.domain import CATALOGUE, settle, shortages, waiting_reason
from maintenance_service.planning.api import PROCEDURES
from maintenance_service.planning.domain import (
    PartChoice,
    PlanDraft,
    StepChoice,
    approve,
    build_plan,
    estimate_hours,
    procedures_for,
    propose,
    reject,
    require_approver,
)
from maintenance_service.work_orders.domain import (
    Status,
    WorkOrder,
    cancel,
    record_assignment,
    record_prediagnosis,
    record_request,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ENG = "ENG-014"
FAILED = [i for i in ROUND1 if not i.passed]


FORBIDDEN, NOT_FOUND, CONFLICT, INVALID = (
    RefusalKind.FORBIDDEN,
    RefusalKind.NOT_FOUND,
    RefusalKind.CONFLICT,
    RefusalKind.INVALID,
)


def refusal(call, kind: RefusalKind, field: str | None = None) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call()
    assert caught.value.kind == kind, caught.value.detail
    if field is not None:
        assert caught.value.field == field, caught.value.detail
    return caught.value


def opened() -> WorkOrder:
    order = WorkOrder(job_id="JOB-1")
    order = record_assignment(order, example("job.assigned.v1"), NOW, "corr-1")
    return record_prediagnosis(order, example("job.prediagnosed.v1"), "corr-1")


def approved_order(procedure="PROC-GA-VSD-OILCIRCUIT") -> WorkOrder:
    order = opened().model_copy(update={"status": Status.DIAGNOSED})
    order = record_request(order, example("job.requested.v1").customer, example("job.requested.v1").contact, "c")
    _, steps, parts, hours, standards = build_plan(PlanDraft(procedure_id=procedure), EQUIPMENT, PROCEDURES, CATALOGUE)
    order, _ = propose(order, ENG, PROCEDURES[procedure], steps, parts, hours, standards, [], NOW)
    approver = example("job.plan_approved.v1").approver
    order, _, _ = approve(order, 1, approver, "CUST-0107", None, NOW)
    return order


# --- work order ---------------------------------------------------------------------------


def test_the_work_order_opens_once_assigned_and_prediagnosed_in_either_order():
    assigned, prediagnosed = example("job.assigned.v1"), example("job.prediagnosed.v1")
    first = record_assignment(WorkOrder(job_id="J"), assigned, NOW, "c")
    assert first.status == Status.PENDING
    assert record_prediagnosis(first, prediagnosed, "c").status == Status.OPEN
    other = record_prediagnosis(WorkOrder(job_id="J"), prediagnosed, "c")
    assert other.status == Status.PENDING
    assert record_assignment(other, assigned, NOW, "c").status == Status.OPEN


def test_a_late_older_assignment_does_not_replace_the_newer_engineer():
    order = opened()
    newer = example("job.assigned.v1").model_copy(update={"engineer": Engineer(engineer_id="ENG-2", name="B")})
    order = record_assignment(order, newer, NOW + timedelta(hours=1), "c")
    assert order.engineer.engineer_id == "ENG-2"
    stale = example("job.assigned.v1")
    assert record_assignment(order, stale, NOW, "c").engineer.engineer_id == "ENG-2"
    refusal(lambda: order.require_engineer(ENG), FORBIDDEN)


def test_cancellation_releases_the_reservation_once():
    order = approved_order()
    assert order.reserved_parts
    cancelled, released = cancel(order, "no longer needed", NOW)
    assert cancelled.status == Status.CANCELLED and released == order.reserved_parts
    assert cancel(cancelled, "again", NOW) == (cancelled, {})
    refusal(lambda: start_work(cancelled, ENG, [], NOW), CONFLICT)


# --- procedures and plans -------------------------------------------------------------------


def test_every_procedure_starts_with_the_mandatory_safety_steps_and_uses_catalogue_parts():
    for procedure in PROCEDURES.values():
        assert [s.safety for s in procedure.steps[:3]] == [True, True, True], procedure.procedure_id
        words = " ".join(s.description.lower() for s in procedure.steps[:3])
        assert "lock-out" in words and "depressurise" in words and "zero energy" in words
        assert all(p.part_number in CATALOGUE for p in procedure.parts)


def test_procedures_for_a_model_come_before_the_generic_ones_of_its_type():
    found = [p.procedure_id for p in procedures_for(PROCEDURES, EQUIPMENT)]
    assert found[0] == "PROC-GA-VSD-OILCIRCUIT" and found[-1] == "PROC-OIS-GENERIC-REPAIR"
    piston = EQUIPMENT.model_copy(update={"compressor_type": CompressorType.PISTON, "model_code": "IR-2545"})
    assert [p.procedure_id for p in procedures_for(PROCEDURES, piston)] == [
        "PROC-IR2545-VALVES",
        "PROC-PISTON-GENERIC-REPAIR",
    ]


def test_every_compressor_type_has_a_procedure_for_any_model():
    for compressor_type in CompressorType:
        unlisted = EQUIPMENT.model_copy(update={"compressor_type": compressor_type, "model_code": "XX-UNLISTED"})
        assert procedures_for(PROCEDURES, unlisted), compressor_type


def test_a_plan_from_a_procedure_takes_its_steps_parts_and_standard_time():
    _, steps, parts, hours, standards = build_plan(
        PlanDraft(procedure_id="PROC-GA-VSD-OILCIRCUIT"), EQUIPMENT, PROCEDURES, CATALOGUE
    )
    assert [s.sequence for s in steps] == list(range(1, 8))
    assert [s.safety for s in steps] == [True, True, True, False, False, False, False]
    assert {p.part_number for p in parts} == {"1622-3600-00", "1625-4800-00", "2901-0522-00"}
    assert hours == estimate_hours(steps) == 3.5  # 200 minutes, rounded up to the quarter hour
    assert standards


def test_the_engineer_may_add_steps_and_drop_optional_ones():
    draft = PlanDraft(
        procedure_id="PROC-GA-VSD-OILCIRCUIT",
        steps=[
            StepChoice(procedure_step="GA-S01"),
            StepChoice(procedure_step="GA-S02"),
            StepChoice(procedure_step="GA-S03"),
            StepChoice(description="Flush the oil cooler", standard_minutes=30),
            StepChoice(procedure_step="GA-M20"),
        ],
        parts=[PartChoice(part_number="2901-1000-05", quantity=2)],
    )
    _, steps, parts, _, _ = build_plan(draft, EQUIPMENT, PROCEDURES, CATALOGUE)
    assert steps[3].procedure_step is None and steps[3].description == "Flush the oil cooler"
    assert parts == [
        PartLine(part_number="2901-1000-05", description="Oil cooler cleaning agent", quantity=2, unit="l")
    ]


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        (["GA-S01", "GA-S03", "GA-M07"], "steps", "GA-S02"),
        (["GA-S02", "GA-S01", "GA-S03"], "steps.1.procedure_step", "order"),
        (["GA-S01", "GA-S02", "GA-S03", "GA-S03"], "steps.3.procedure_step", "twice"),
        (["GA-S01", "GA-S02", "GA-S03", "ZR-P01"], "steps.3.procedure_step", "not in procedure"),
    ],
)
def test_invalid_plan_steps_are_refused_naming_the_field(steps, field, words):
    draft = PlanDraft(procedure_id="PROC-GA-VSD-OILCIRCUIT", steps=[StepChoice(procedure_step=s) for s in steps])
    refused = refusal(lambda: build_plan(draft, EQUIPMENT, PROCEDURES, CATALOGUE), INVALID, field)
    assert words in refused.detail


def test_an_added_step_needs_a_description_and_parts_must_be_known():
    no_text = PlanDraft(procedure_id="PROC-GA-VSD-OILCIRCUIT", steps=[StepChoice(standard_minutes=5)])
    refusal(lambda: build_plan(no_text, EQUIPMENT, PROCEDURES, CATALOGUE), INVALID, "steps.0.description")
    unknown = PlanDraft(procedure_id="PROC-GA-VSD-OILCIRCUIT", parts=[PartChoice(part_number="X-1", quantity=1)])
    refusal(lambda: build_plan(unknown, EQUIPMENT, PROCEDURES, CATALOGUE), INVALID, "parts.0.part_number")
    other_model = PlanDraft(procedure_id="PROC-KA-SK-SERVICE")
    refusal(lambda: build_plan(other_model, EQUIPMENT, PROCEDURES, CATALOGUE), INVALID, "procedure_id")
    refusal(
        lambda: build_plan(PlanDraft(procedure_id="NOPE"), EQUIPMENT, PROCEDURES, CATALOGUE), INVALID, "procedure_id"
    )


def test_only_the_jobs_customer_or_a_manager_decides():
    order = approved_order()
    require_approver(order, "CUST-0107", frozenset({"customer"}))
    require_approver(order, "anyone", frozenset({"manager"}))
    refusal(lambda: require_approver(order, "CUST-9", frozenset({"customer"})), FORBIDDEN)
    refusal(lambda: require_approver(order, ENG, frozenset({"engineer"})), FORBIDDEN)
    refusal(lambda: require_approver(order.model_copy(update={"customer": None}), "CUST-0107", {"customer"}), FORBIDDEN)


def test_a_rejected_plan_is_revised_and_a_decided_plan_cannot_be_decided_again():
    order = opened().model_copy(update={"status": Status.DIAGNOSED})
    procedure = PROCEDURES["PROC-GA-VSD-OILCIRCUIT"]
    _, steps, parts, hours, standards = build_plan(
        PlanDraft(procedure_id=procedure.procedure_id), EQUIPMENT, PROCEDURES, CATALOGUE
    )
    order, event = propose(order, ENG, procedure, steps, parts, hours, standards, [], NOW)
    assert event.revision == 1
    rep = example("job.plan_rejected.v1").rejected_by
    order, _ = reject(order, 1, rep, "CUST-0107", "too long", NOW)
    assert order.status == Status.PLAN_REJECTED
    refusal(lambda: approve(order, 1, rep, "CUST-0107", None, NOW), CONFLICT)
    order, event = propose(order, ENG, procedure, steps, parts, hours, standards, [], NOW)
    assert event.revision == 2 and order.status == Status.PLAN_PROPOSED
    order, _, reservation = approve(order, 2, rep, "CUST-0107", None, NOW)
    assert reservation == {"1622-3600-00": 1, "1625-4800-00": 1, "2901-0522-00": 10}
    assert order.approved_plan.revision == 2


# --- stock ----------------------------------------------------------------------------------


def test_shortages_name_what_is_missing_and_how_much():
    needed = [
        PartLine(part_number="1622-7134-00", description="b", quantity=2),
        PartLine(part_number="1625-4800-00", description="f", quantity=1),
    ]
    missing = shortages(needed, {"1622-7134-00": 0.5, "1625-4800-00": 3}, CATALOGUE)
    assert [(m.part_number, m.quantity) for m in missing] == [("1622-7134-00", 1.5)]
    assert "1622-7134-00" in waiting_reason(missing)
    assert shortages(needed, {"1622-7134-00": 2, "1625-4800-00": 1}, CATALOGUE) == []
    assert waiting_reason([]) is None


def test_settling_a_round_consumes_from_the_reservation_first_and_releases_the_rest():
    reserved = {"A": 10, "B": 1}
    used = [
        PartUsed(part_number="A", description="a", quantity=9),
        PartUsed(part_number="B", description="b", quantity=2),
        PartUsed(part_number="C", description="c", quantity=1, in_plan=False, reason="found worn"),
    ]
    settlement = settle(reserved, used)
    assert settlement.from_reservation == {"A": 9, "B": 1}
    assert settlement.from_free_stock == {"B": 1, "C": 1}
    assert settlement.released == {"A": 1}
    assert settle({}, []).released == {}


# --- execution and rework -------------------------------------------------------------------


def test_work_starts_only_on_an_approved_plan():
    refusal(lambda: start_work(opened(), ENG, [], NOW), CONFLICT, "status")
    order, event = start_work(approved_order(), ENG, [], NOW)
    assert event.round == 1 and event.rework_indicators == [] and order.status == Status.IN_PROGRESS
    refusal(lambda: start_work(order, ENG, [], NOW), CONFLICT)
    refusal(lambda: start_work(approved_order(), ENG, [AddedStep(description="x")], NOW), INVALID, "added_steps")
    refusal(lambda: start_work(approved_order(), "ENG-999", [], NOW), FORBIDDEN)


def test_steps_go_in_order_and_safety_steps_cannot_be_skipped():
    order, _ = start_work(approved_order(), ENG, [], NOW)
    refusal(lambda: complete_step(order, ENG, 2, None, NOW), CONFLICT, "sequence")
    refusal(lambda: skip_step(order, ENG, 1, "hurry", NOW), INVALID, "sequence")
    refusal(lambda: complete_step(order, ENG, 99, None, NOW), NOT_FOUND, "sequence")
    for sequence in (1, 2, 3):
        order, event = complete_step(order, ENG, sequence, None, NOW)
    assert event.steps_done == 3 and event.steps_total == 7
    assert event.message.startswith("Step 3 of 7 of the repair is done") and "Next: Drain the oil" in event.message
    order = skip_step(order, ENG, 4, "filter changed last week", NOW)
    assert next_step(order.current_round).sequence == 5
    refusal(
        lambda: complete_work(order, ENG, CompletionDraft(labour_hours=1, repair_method="x"), CATALOGUE, NOW), CONFLICT
    )


def finished_round(order: WorkOrder, parts=()) -> tuple[WorkOrder, object]:
    order, _ = start_work(order, ENG, [], NOW)
    for step in order.current_round.steps:
        order, _ = complete_step(order, ENG, step.sequence, None, NOW)
    draft = CompletionDraft(parts_used=list(parts), labour_hours=2, repair_method="Did it.")
    order, event, _ = complete_work(order, ENG, draft, CATALOGUE, NOW)
    return order, event


def test_parts_used_outside_the_plan_need_a_reason():
    order, _ = start_work(approved_order(), ENG, [], NOW)
    for step in order.current_round.steps:
        order, _ = complete_step(order, ENG, step.sequence, None, NOW)

    def complete(*parts):
        draft = CompletionDraft(parts_used=list(parts), labour_hours=2, repair_method="x")
        return complete_work(order, ENG, draft, CATALOGUE, NOW)

    refusal(lambda: complete(PartUsedDraft(part_number="GEN-LEAK-SPRAY", quantity=1)), INVALID, "parts_used.0.in_plan")
    no_reason = PartUsedDraft(part_number="GEN-LEAK-SPRAY", quantity=1, in_plan=False)
    refusal(lambda: complete(no_reason), INVALID, "parts_used.0.reason")
    _, event, used = complete(PartUsedDraft(part_number="GEN-LEAK-SPRAY", quantity=1, in_plan=False, reason="leak"))
    assert used[0].in_plan is False and used[0].description == "Leak detection spray 400 ml"
    assert event.round == 1 and event.equipment == EQUIPMENT


def test_a_failed_inspection_reopens_the_next_round_once_with_the_failed_indicators_as_work():
    order, _ = finished_round(approved_order())
    failed = JobInspectionFailed(
        job_id="JOB-1", round=1, inspector=INSPECTOR, template_id="T", failed_indicators=FAILED
    )
    reopened = reopen_for_rework(order, failed)
    assert reopened.status == Status.REWORK and reopened.current_round.round == 2
    assert reopen_for_rework(reopened, failed) is reopened  # redelivered: nothing more
    stale = failed.model_copy(update={"round": 5})
    assert reopen_for_rework(order, stale) is order
    started, event = start_work(reopened, ENG, [AddedStep(description="Replace the cooler fan motor")], NOW)
    assert event.round == 2 and event.rework_indicators == FAILED
    steps = started.current_round.steps
    assert [s.sequence for s in steps] == list(range(1, len(steps) + 1))
    assert steps[-2].description == "Replace the cooler fan motor" and steps[-1].description.startswith("Remove lock")


def test_rework_steps_keep_the_safety_steps_then_correct_each_failed_indicator():
    plan_steps = approved_order().approved_plan.steps
    steps = rework_steps(plan_steps, FAILED)
    assert [s.safety for s in steps] == [True, True, True, False, False]
    assert "Discharge temperature" in steps[3].description and "at most 100 °C" in steps[3].description


# --- what the customer reads, in Bahasa Melayu and English -------------------------------------


def test_plan_steps_from_the_procedure_carry_its_malay_text_and_steps_the_engineer_words_have_none():
    draft = PlanDraft(
        procedure_id="PROC-GA-VSD-OILCIRCUIT",
        steps=[
            StepChoice(procedure_step="GA-S01"),
            StepChoice(procedure_step="GA-S02"),
            StepChoice(procedure_step="GA-S03", description="Verify zero energy at the VSD cubicle"),
            StepChoice(description="Flush the oil cooler", standard_minutes=30),
            StepChoice(procedure_step="GA-M20"),
        ],
    )
    _, steps, _, _, _ = build_plan(draft, EQUIPMENT, PROCEDURES, CATALOGUE)
    procedure = PROCEDURES["PROC-GA-VSD-OILCIRCUIT"]
    assert steps[0].description_ms == procedure.step("GA-S01").description_ms
    assert steps[0].description_ms.startswith("Asingkan bekalan elektrik")
    assert steps[4].description_ms == procedure.step("GA-M20").description_ms
    # Reworded or added by the engineer: no Malay until someone writes it (the English is shown).
    assert steps[2].description_ms is None and steps[3].description_ms is None


def test_a_done_step_is_reported_in_english_and_in_malay_with_the_next_step_and_the_note():
    order, _ = start_work(approved_order(), ENG, [], NOW)
    for sequence in (1, 2):
        order, _ = complete_step(order, ENG, sequence, None, NOW)
    order, event = complete_step(order, ENG, 3, "Gauges read 0 bar.", NOW)
    assert event.message == (
        "Step 3 of 7 of the repair is done: Verify zero energy: start attempt refused, pressure gauges at 0 bar, "
        "drive capacitors discharged. Next: Drain the oil and replace the oil filter. "
        "Engineer's note: Gauges read 0 bar."
    )
    assert event.message_ms == (
        "Langkah 3 daripada 7 kerja pembaikan telah selesai: Sahkan tenaga sifar: mesin tidak dapat dihidupkan, "
        "tolok tekanan menunjukkan 0 bar dan kapasitor pemacu telah dinyahcas. "
        "Seterusnya: Salirkan minyak dan tukar penapis minyak. Nota jurutera: Gauges read 0 bar."
    )
    for sequence in range(4, 8):
        order, event = complete_step(order, ENG, sequence, None, NOW)
    assert event.message.endswith("All steps are done; the engineer is finishing the work report.")
    assert event.message_ms.startswith("Langkah 7 daripada 7 kerja pembaikan telah selesai: Isi semula minyak")
    assert event.message_ms.endswith("Semua langkah telah selesai; jurutera sedang melengkapkan laporan kerja.")


def test_a_rework_step_without_malay_is_named_as_written_inside_the_malay_sentence():
    order, _ = finished_round(approved_order())
    failed = JobInspectionFailed(
        job_id="JOB-1", round=1, inspector=INSPECTOR, template_id="T", failed_indicators=FAILED
    )
    order, _ = start_work(reopen_for_rework(order, failed), ENG, [AddedStep(description="Replace the fan motor")], NOW)
    work = order.current_round
    added = next(s for s in work.steps if s.description == "Replace the fan motor")
    upcoming = next(s for s in work.steps if s.sequence == added.sequence + 1)
    english = progress_message(work, added, upcoming, Language.EN)
    malay = progress_message(work, added, upcoming, Language.MS)
    assert english.startswith(f"Step {added.sequence} of {len(work.steps)} of round 2 (rework) is done: Replace the")
    assert malay == (
        f"Langkah {added.sequence} daripada {len(work.steps)} bagi pusingan 2 (kerja semula) telah selesai: "
        f"Replace the fan motor. Seterusnya: {upcoming.description_ms}."
    )
    assert upcoming.description_ms.startswith("Tanggalkan kunci keluar")


def test_rework_steps_read_in_malay_with_the_indicators_malay_names():
    failed = [FAILED[0].model_copy(update={"name_ms": "Suhu discas"})]
    steps = rework_steps(approved_order().approved_plan.steps, failed)
    assert steps[0].description_ms.startswith("Asingkan bekalan elektrik")  # the plan's safety steps, as planned
    assert steps[3].description.startswith("Find and correct the cause of the failed Discharge temperature")
    assert steps[3].description_ms == (
        "Kenal pasti dan betulkan punca kegagalan bagi Suhu discas: bacaan 104 °C, had yang ditetapkan maksimum 100 °C"
    )
    assert steps[4].description_ms == (
        "Tanggalkan kunci keluar, sambung semula bekalan dan jalankan ujian larian; semak Suhu discas"
    )
