"""The evaluation rules (pure domain code): each indicator at and around its limits, refusals of
incomplete or unknown readings, and when repeated failures escalate."""

import math

import pytest

from compressor_kit.refusals import Refusal, RefusalKind
from quality_service.inspections.domain import (
    Reading,
    describe_limit,
    escalation_detail,
    escalation_due,
    evaluate,
    evaluate_indicator,
    within_limits,
)
from quality_service.settings import QualitySettings
from quality_service.templates.catalogue import TEMPLATES
from quality_service.templates.domain import IndicatorSpec

EPSILON = 1e-6


def spec(lo=None, hi=None, code="x", unit="bar") -> IndicatorSpec:
    return IndicatorSpec(
        code=code, name=f"indicator {code}", unit=unit, min_limit=lo, max_limit=hi, method="m", corrective_action="fix"
    )


EVERY_SHIPPED_INDICATOR = [
    pytest.param(indicator, id=f"{template.template_id}:{indicator.code}")
    for template in TEMPLATES.all()
    for indicator in template.indicators
]


@pytest.mark.parametrize("indicator", EVERY_SHIPPED_INDICATOR)
def test_each_shipped_indicator_passes_at_its_limits_and_fails_just_outside(indicator):
    for limit in (indicator.min_limit, indicator.max_limit):
        if limit is not None:
            assert evaluate_indicator(indicator, limit).passed, f"at the limit {limit}"
    if indicator.max_limit is not None:
        assert evaluate_indicator(indicator, indicator.max_limit - EPSILON).passed
        above = evaluate_indicator(indicator, indicator.max_limit + EPSILON)
        assert not above.passed
        assert above.corrective_action == indicator.corrective_action
    if indicator.min_limit is not None:
        assert evaluate_indicator(indicator, indicator.min_limit + EPSILON).passed
        below = evaluate_indicator(indicator, indicator.min_limit - EPSILON)
        assert not below.passed
        assert below.corrective_action == indicator.corrective_action


@pytest.mark.parametrize(
    ("lo", "hi", "value", "passed"),
    [
        (6.5, 7.5, 6.5, True),
        (6.5, 7.5, 7.5, True),
        (6.5, 7.5, 7.0, True),
        (6.5, 7.5, 6.49, False),
        (6.5, 7.5, 7.51, False),
        (None, 100.0, 100.0, True),
        (None, 100.0, 100.1, False),
        (None, 100.0, -40.0, True),
        (90.0, None, 90.0, True),
        (90.0, None, 89.9, False),
        (90.0, None, 1e9, True),
        (None, 0.0, 0.0, True),  # leak count: zero leaks pass
        (None, 0.0, 1.0, False),
        (None, 0.01, 0.01, True),  # class 0 oil content
        (None, 0.01, 0.011, False),
    ],
)
def test_limits_are_inclusive_and_one_sided_limits_are_open_on_the_other_side(lo, hi, value, passed):
    assert within_limits(spec(lo, hi), value) is passed
    result = evaluate_indicator(spec(lo, hi), value)
    assert result.passed is passed
    assert (result.value, result.min_limit, result.max_limit, result.unit) == (value, lo, hi, "bar")
    assert result.corrective_action == (None if passed else "fix")


CHECKLIST = [spec(6.5, 7.5, "pressure"), spec(None, 100, "temperature", "°C"), spec(None, 0, "leaks", "count")]


def readings(**values) -> list[Reading]:
    units = {s.code: s.unit for s in CHECKLIST}
    return [Reading(code, value, units.get(code, "bar")) for code, value in values.items()]


def test_all_within_limits_passes_and_keeps_every_value_in_checklist_order():
    verdict = evaluate(CHECKLIST, readings(leaks=0, temperature=91, pressure=7.1))
    assert verdict.all_passed
    assert [(r.code, r.value) for r in verdict.results] == [("pressure", 7.1), ("temperature", 91), ("leaks", 0)]
    assert verdict.failed == []


def test_one_indicator_outside_fails_the_inspection_and_names_it():
    verdict = evaluate(CHECKLIST, readings(pressure=7.1, temperature=104, leaks=0))
    assert not verdict.all_passed
    assert [r.code for r in verdict.failed] == ["temperature"]
    assert [r.code for r in verdict.passed] == ["pressure", "leaks"]


def refusal(readings_) -> dict[str, str]:
    with pytest.raises(Refusal) as caught:
        evaluate(CHECKLIST, readings_)
    assert caught.value.kind == RefusalKind.INVALID
    return {e.field: e.message for e in caught.value.issues}


def test_a_missing_indicator_is_an_error_not_a_pass():
    errors = refusal(readings(pressure=7.0, leaks=0))
    assert list(errors) == ["measurements.temperature"]
    assert "not measured" in errors["measurements.temperature"]


def test_no_readings_at_all_names_every_indicator():
    assert set(refusal([])) == {"measurements.pressure", "measurements.temperature", "measurements.leaks"}


def test_an_unknown_indicator_is_refused_naming_its_position():
    errors = refusal(readings(pressure=7.0, temperature=90, leaks=0, humidity=40))
    assert list(errors) == ["measurements.3.code"]
    assert "'humidity'" in errors["measurements.3.code"]


def test_an_indicator_recorded_twice_is_refused():
    errors = refusal([*readings(pressure=7.0, temperature=90, leaks=0), Reading("pressure", 7.2, "bar")])
    assert list(errors) == ["measurements.3.code"]


def test_a_value_in_another_unit_is_refused_but_ascii_spellings_are_accepted():
    errors = refusal(
        [Reading("pressure", 101.5, "psi"), Reading("temperature", 90, "°C"), Reading("leaks", 0, "count")]
    )
    assert list(errors) == ["measurements.0.unit"]
    assert "'bar'" in errors["measurements.0.unit"]
    verdict = evaluate(
        CHECKLIST, [Reading("pressure", 7, "bar"), Reading("temperature", 90, "degC"), Reading("leaks", 0, "count")]
    )
    assert verdict.all_passed


def test_a_non_finite_value_is_refused():
    errors = refusal(readings(pressure=math.nan, temperature=90, leaks=0))
    assert list(errors) == ["measurements.0.value"]


@pytest.mark.parametrize(
    ("failed_rounds", "threshold", "due"), [(1, 3, False), (2, 3, False), (3, 3, True), (4, 3, True), (1, 1, True)]
)
def test_escalation_from_the_configured_number_of_failed_rounds_on(failed_rounds, threshold, due):
    assert escalation_due(failed_rounds, threshold) is due


def test_the_escalation_threshold_defaults_to_three_and_is_read_from_the_environment(monkeypatch):
    assert QualitySettings().quality_escalation_failed_rounds == 3
    monkeypatch.setenv("QUALITY_ESCALATION_FAILED_ROUNDS", "5")
    assert QualitySettings().quality_escalation_failed_rounds == 5


def test_the_escalation_detail_names_each_failing_indicator_with_value_and_limit():
    failed = [evaluate_indicator(spec(None, 100, "temperature", "°C"), 104), evaluate_indicator(spec(6.5, 7.5), 6.1)]
    detail = escalation_detail("JOB-1", 3, "Atlas Copco GA 37 VSD+, serial API1", failed)
    assert "3 rounds" in detail
    assert "104 °C (limit max 100 °C)" in detail
    assert "6.1 bar (limit 6.5-7.5 bar)" in detail
    assert describe_limit(evaluate_indicator(spec(90, None, unit="%"), 95)) == "min 90 %"
    assert len(escalation_detail("JOB-1", 3, "x", failed * 200)) <= 2000
