"""Pure rules of the maintenance record: what it contains (from the job's timeline), when it can be
written, who may read it, how it is corrected, how a late signature adds a version, the report's
languages and object keys, and the summary (`ServiceOutcome`) that travels in `job.report_published`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from compressor_contracts import CloudEvent, ServiceOutcome
from compressor_contracts.common import Language
from compressor_kit.i18n import DEFAULT_LANGUAGE, parse_language
from compressor_kit.refusals import Refusal
from reporting_service.timeline.domain import PHASE_NAMES, in_order, seconds_per_phase, stints

PENDING, PUBLISHED, ABANDONED = "pending", "published", "abandoned"
_RECORD_IDS = uuid.UUID("6f0c2a4e-4c1b-4a54-9a52-0d5a3c1e7b11")


def record_id_for(job_id: str) -> str:
    """One record per job, with an id derived from the job id so every replica and redelivery agrees."""
    return "REC-" + uuid.uuid5(_RECORD_IDS, job_id).hex[:20].upper()


def version_id(record_id: str, version: int) -> str:
    return f"{record_id}.v{version}"


def first_version(passed: CloudEvent[Any]) -> dict[str, Any]:
    """The job's inspection passed: version 1 of its record is due (its content is built when it is
    published, from the job's timeline by then complete)."""
    record_id = record_id_for(passed.subject)
    return {
        "_id": version_id(record_id, 1),
        "record_id": record_id,
        "version": 1,
        "job_id": passed.subject,
        "status": PENDING,
        "created_at": passed.time,
        "correlation_id": passed.correlationid,
        "cause": passed.model_dump_json(),
    }


def corrected_version(
    latest: dict[str, Any] | None,
    record_id: str,
    reason: str,
    fields: dict[str, Any],
    by: str,
    now: datetime,
    *,
    manager: bool,
) -> dict[str, Any]:
    """A new pending version correcting `fields` of the latest one, which must be published.
    Only the job's engineer (as the record names them) or a manager may correct it."""
    if not fields:
        raise Refusal.invalid("name at least one field to correct", field="root_cause")
    if latest is None:
        raise Refusal.not_found(f"no record {record_id!r}", field="record_id")
    if latest["status"] != PUBLISHED:
        raise Refusal.conflict(f"version {latest['version']} is {latest['status']}; wait until it is published")
    check_corrector(latest, by, manager=manager)
    version = latest["version"] + 1
    return {
        "_id": version_id(record_id, version),
        "record_id": record_id,
        "version": version,
        "job_id": latest["job_id"],
        "status": PENDING,
        "created_at": now,
        "correlation_id": latest.get("correlation_id"),
        "correction": {"reason": reason, "fields": fields, "by": by},
    }


def check_corrector(record: dict[str, Any], corrector: str, *, manager: bool) -> None:
    """The job's engineer, as the published record names them, or a manager; nobody else."""
    if manager:
        return
    engineer = (record.get("content") or {}).get("engineer") or {}
    if engineer.get("engineer_id") != corrector:
        raise Refusal.forbidden("only the job's engineer or a manager may correct this record", field="record_id")


def check_reader(record: dict[str, Any], reader: str, staff: bool) -> None:
    """A customer reads only their own records; staff read all."""
    if not staff and record["content"]["customer"]["customer_id"] != reader:
        raise Refusal.forbidden("this record belongs to another customer", field="job_id")


def report_key(job_id: str, version: int, service_date: datetime, language: Language) -> str:
    """Predictable and versioned: year/month/job/version/language."""
    return f"{service_date:%Y}/{service_date:%m}/{job_id}/v{version}/{language.value}/report.pdf"


def report_language(content: dict[str, Any]) -> Language:
    """The report's language: the job's contact's preferred one (English for requests that named none)."""
    return parse_language(content["contact"].get("language")) or DEFAULT_LANGUAGE


def report_in(record: dict[str, Any], language: Language | None) -> tuple[Language, dict[str, Any]]:
    """The published report PDF of `record` in `language` (the contact's language by default).
    Versions published before reports were bilingual have one English report."""
    chosen = language or parse_language(record.get("language")) or DEFAULT_LANGUAGE
    reports = record.get("reports") or {DEFAULT_LANGUAGE.value: record["report"]}
    if chosen.value not in reports:
        raise Refusal.not_found(
            f"version {record['version']} of this record has no report in {chosen.value!r}", field="language"
        )
    return chosen, reports[chosen.value]


# Signatures


def signatures_of(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every signature the job's customer gave (job.signed), once each, in the order they signed."""
    seen: dict[str, dict[str, Any]] = {}
    for entry in in_order(timeline):
        if entry["event"] == "job.signed":
            data = entry["data"]
            seen.setdefault(data["signature_id"], data)
    ordered = sorted(seen.values(), key=lambda s: (_parse(s["signed_at"]), s["signature_id"]))
    return [
        {
            "signature_id": s["signature_id"],
            "signed_for": s["signed_for"],
            "plan_revision": s.get("plan_revision"),
            "round": s.get("round"),
            "signer": s["signer"],
            "signed_at": _parse(s["signed_at"]),
            "content_sha256": s["content_sha256"],
            "image": s["image"],
            "collected_by": s.get("collected_by"),
        }
        for s in ordered
    ]


# What a signature arriving changes for the record: nothing yet (no version is due: version 1 will
# read it from the timeline), the pending version (it must show it), or a new version.
NOTHING, PENDING_VERSION_MUST_SHOW_IT, NEW_VERSION = "nothing", "pending must show it", "new version"


def after_signature(latest: dict[str, Any] | None, signature_id: str) -> str:
    """What a signature that arrived does to the job's record, given its latest version."""
    if latest is None or latest["status"] == ABANDONED:
        return NOTHING
    if latest["status"] == PENDING:
        return PENDING_VERSION_MUST_SHOW_IT
    shown = {s["signature_id"] for s in latest["content"].get("signatures", [])}
    return NOTHING if signature_id in shown else NEW_VERSION


def signed_version(latest: dict[str, Any], signature: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A published record whose customer signed afterwards (they sign when the inspection has
    passed): a new pending version showing the signature; the published versions never change."""
    version = latest["version"] + 1
    return {
        "_id": version_id(latest["record_id"], version),
        "record_id": latest["record_id"],
        "version": version,
        "job_id": latest["job_id"],
        "status": PENDING,
        "created_at": now,
        "correlation_id": latest.get("correlation_id"),
        "signature_added": {
            "signature_id": signature["signature_id"],
            "signed_for": signature["signed_for"],
            "signer": signature["signer"],
        },
        "signatures_due": [signature["signature_id"]],
    }


class MissingFacts(Exception):
    """The record cannot be written yet: some events have not arrived (they will)."""


def _latest(facts: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    matching = [f for f in facts if f["event"] == name]
    return matching[-1] if matching else None


def _all(facts: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [f for f in facts if f["event"] == name]


RUNNING_HOURS_TYPED, RUNNING_HOURS_FROM_CONTROLLER = "engineer", "controller"


def running_hours_at_visit(
    typed: int | None, machine_readings: list[dict[str, Any]] | None, visit_at: datetime | None
) -> tuple[int | None, str | None, str | None]:
    """The running hours the report gives, where they came from and when they were read: what the
    engineer typed at the diagnosis; else, for a job the machine raised, its controller's reading
    nearest the visit among those its request carried (`job.requested.machine_readings`)."""
    if typed is not None:
        return typed, RUNNING_HOURS_TYPED, None
    read = [r for r in machine_readings or [] if r.get("running_hours") is not None and r.get("read_at")]
    if not read:
        return None, None, None
    if visit_at is not None and visit_at.tzinfo is None:
        visit_at = visit_at.replace(tzinfo=UTC)  # as MongoDB gives a stored time back
    if visit_at is None:
        nearest = max(read, key=lambda r: _parse(r["read_at"]))
    else:
        nearest = min(read, key=lambda r: abs((_parse(r["read_at"]) - visit_at).total_seconds()))
    return int(nearest["running_hours"]), RUNNING_HOURS_FROM_CONTROLLER, str(nearest["read_at"])


def build_record(job_id: str, timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """The record's content from the job's timeline entries (ordered here): the job as it was when
    its inspection passed. Raises MissingFacts."""
    facts = in_order(timeline)
    signatures = signatures_of(facts)  # a signature after the pass (accepting the work) belongs to it too
    passed = _latest(facts, "job.inspection_passed")
    if passed is None:
        raise MissingFacts("the inspection has not passed")
    facts = facts[: facts.index(passed) + 1]  # what came after the pass (the report, the survey) is not in it
    requested = _latest(facts, "job.requested")
    diagnosed = _latest(facts, "job.diagnosed")
    final_round = passed["data"]["round"]
    completed = {f["data"]["round"]: f for f in _all(facts, "job.work_completed")}
    # Every job that passed inspection went through these; events of one job may be handled out of
    # order (concurrent consumers), so wait for all of them rather than publish an incomplete record.
    # (job.prediagnosed is not required: a job may reach the inspection without a commitment.)
    required = ("job.requested", "job.assigned", "job.engineer_arrived", "job.diagnosed")
    missing = [name for name in required if _latest(facts, name) is None]
    missing += [] if _latest(facts, "job.plan_approved") else ["job.plan_approved"]
    missing += [f"job.work_completed round {r}" for r in range(1, final_round + 1) if r not in completed]
    # The approved plan's content comes from its job.plan_proposed, and every round before the final
    # one failed its inspection: both may still be on their way when the pass arrives.
    if approved := _latest(facts, "job.plan_approved"):
        revision = approved["data"]["revision"]
        if not any(f["data"]["revision"] == revision for f in _all(facts, "job.plan_proposed")):
            missing.append(f"job.plan_proposed revision {revision}")
    failed_rounds = {f["data"]["round"] for f in _all(facts, "job.inspection_failed")}
    missing += [f"job.inspection_failed round {r}" for r in range(1, final_round) if r not in failed_rounds]
    if missing:
        raise MissingFacts("waiting for " + ", ".join(missing))
    assert requested is not None and diagnosed is not None

    req, diag = requested["data"], diagnosed["data"]
    assigned = _latest(facts, "job.assigned")
    prediagnosed = _latest(facts, "job.prediagnosed")
    arrived = _latest(facts, "job.engineer_arrived")
    approved = _latest(facts, "job.plan_approved")
    plan = None
    if approved:
        plan = next(
            (f for f in _all(facts, "job.plan_proposed") if f["data"]["revision"] == approved["data"]["revision"]),
            None,
        )
    plan = plan or _latest(facts, "job.plan_proposed")

    rounds = []
    for number in range(1, final_round + 1):
        work = completed[number]["data"]
        started = next((f for f in _all(facts, "job.work_started") if f["data"]["round"] == number), None)
        inspection = next(
            (
                f
                for f in _all(facts, "job.inspection_failed") + _all(facts, "job.inspection_passed")
                if f["data"]["round"] == number
            ),
            None,
        )
        indicators: list[dict[str, Any]] = []
        if inspection and inspection["event"] == "job.inspection_passed":
            indicators = inspection["data"]["indicators"]
        elif inspection:
            indicators = inspection["data"]["failed_indicators"] + inspection["data"]["passed_indicators"]
        rounds.append(
            {
                "round": number,
                "started_at": started["time"] if started else None,
                "completed_at": completed[number]["time"],
                "steps_done": work["steps_done"],
                "parts_used": work["parts_used"],
                "labour_hours": work["labour_hours"],
                "repair_method": work["repair_method"],
                "inspection": {
                    "passed": inspection["event"] == "job.inspection_passed" if inspection else None,
                    "inspected_at": inspection["time"] if inspection else None,
                    "inspector": inspection["data"]["inspector"] if inspection else None,
                    "template_id": inspection["data"]["template_id"] if inspection else None,
                    "indicators": indicators,
                },
            }
        )

    commitment = prediagnosed["data"]["commitment"] if prediagnosed else None
    arrived_at = _parse(arrived["data"]["arrived_at"]) if arrived else None
    passed_at = passed["time"]
    arrive_by_met = resolve_by_met = None
    if commitment:
        arrive_by_met = arrived_at is not None and arrived_at <= _parse(commitment["arrive_by"])
        resolve_by_met = passed_at <= _parse(commitment["resolve_by"])
    engineer = completed[final_round]["data"]["engineer"]
    running_hours, running_hours_source, running_hours_read_at = running_hours_at_visit(
        diag.get("running_hours"), req.get("machine_readings"), arrived_at or diagnosed["time"]
    )
    phase_stints = stints(facts)
    labour_hours = round(sum(r["labour_hours"] for r in rounds), 2)
    return {
        "job_id": job_id,
        "customer": req["customer"],
        "contact": req["contact"],
        "site": req["site"],
        "equipment": req["equipment"],
        "priority": req["priority"],
        "channel": req["channel"],
        "fault_description": req["fault_description"],
        "engineer": engineer,
        "region": assigned["data"]["region"] if assigned else req["site"]["region"],
        "dates": {
            "requested_at": requested["time"],
            "assigned_at": assigned["time"] if assigned else None,
            "prediagnosed_at": prediagnosed["time"] if prediagnosed else None,
            "arrived_at": arrived_at,
            "diagnosed_at": diagnosed["time"],
            "plan_approved_at": approved["time"] if approved else None,
            "work_started_at": rounds[0]["started_at"],
            "work_completed_at": rounds[-1]["completed_at"],
            "inspection_passed_at": passed_at,
        },
        "service_date": passed_at.date().isoformat(),
        "prediagnosis": {
            "confirmed_symptoms": prediagnosed["data"]["confirmed_symptoms"],
            "suspected_causes": prediagnosed["data"]["suspected_causes"],
        }
        if prediagnosed
        else None,
        "diagnosis": {
            "measurements": diag["measurements"],
            "root_cause": diag["root_cause"],
            "failure_category": diag["failure_category"],
            "scope": diag["scope"],
            "running_hours": diag.get("running_hours"),
        },
        "plan": {
            "revision": plan["data"]["revision"],
            "procedure_id": plan["data"]["procedure_id"],
            "steps": plan["data"]["steps"],
            "parts": plan["data"]["parts"],
            "estimated_hours": plan["data"]["estimated_hours"],
            "standards": plan["data"]["standards"],
            "approved_by": approved["data"]["approver"] if approved else None,
        }
        if plan
        else None,
        "rounds": rounds,
        "steps_done": [step for r in rounds for step in r["steps_done"]],
        "parts_used": merged_parts(rounds),
        "root_cause": diag["root_cause"],
        "failure_category": diag["failure_category"],
        # one sentence per round, in order: "Replaced the valve. Rework: cleaned the cooler."
        "repair_method": " ".join(_sentence(r["repair_method"]) for r in rounds),
        "labour_hours": labour_hours,
        "inspection_rounds": final_round,
        "seconds_per_phase": seconds_per_phase(phase_stints),
        "phases": [
            {
                "phase": s.phase,
                "phase_name": PHASE_NAMES[s.phase],
                "round": s.round,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
                "seconds": s.seconds,
            }
            for s in phase_stints
        ],
        "elapsed_seconds": (passed_at - requested["time"]).total_seconds(),
        "commitment": commitment,
        "arrive_by_met": arrive_by_met,
        "resolve_by_met": resolve_by_met,
        "running_hours": running_hours,
        "running_hours_source": running_hours_source,
        "running_hours_read_at": running_hours_read_at,
        "signatures": signatures,
    }


def merged_parts(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parts over all rounds, one line per part number and unit, quantities added."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rounds:
        for part in r["parts_used"]:
            key = (part["part_number"], part["unit"])
            if key in merged:
                merged[key]["quantity"] += part["quantity"]
            else:
                merged[key] = dict(part)
    return list(merged.values())


def next_content(
    previous: dict[str, Any], correction: dict[str, Any] | None, signatures: list[dict[str, Any]]
) -> dict[str, Any]:
    """A later version's content: the previous version's, corrected, with every signature given so far."""
    content = apply_correction(previous, correction["fields"]) if correction else dict(previous)
    return {**content, "signatures": signatures}


def apply_correction(content: dict[str, Any], correction: dict[str, Any]) -> dict[str, Any]:
    """A corrected copy: only the correctable fields change; the diagnosis keeps them in step."""
    corrected = {**content, "diagnosis": dict(content["diagnosis"])}
    for field in ("root_cause", "failure_category", "scope"):
        if correction.get(field) is not None:
            corrected["diagnosis"][field] = correction[field]
            if field != "scope":
                corrected[field] = correction[field]
    if correction.get("repair_method") is not None:
        corrected["repair_method"] = correction["repair_method"]
    return corrected


def outcome(content: dict[str, Any]) -> ServiceOutcome:
    return ServiceOutcome(
        customer_id=content["customer"]["customer_id"],
        equipment_id=content["equipment"]["equipment_id"],
        serial_number=content["equipment"]["serial_number"],
        service_date=content["service_date"],
        engineer=content["engineer"],
        root_cause=content["root_cause"],
        failure_category=content["failure_category"],
        repair_method=content["repair_method"],
        parts_used=content["parts_used"],
        labour_hours=content["labour_hours"],
        inspection_rounds=content["inspection_rounds"],
        running_hours=content["running_hours"],
        arrive_by_met=content["arrive_by_met"],
        resolve_by_met=content["resolve_by_met"],
    )


def _parse(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
