"""SLA policy and deadline rules, pure."""

from datetime import UTC, datetime, timedelta

import pytest

from compressor_contracts import Priority
from compressor_kit.refusals import Refusal, RefusalKind
from dispatch_service.settings import DispatchSettings
from dispatch_service.sla.domain import SlaPolicy, check_commitment, due_alerts

REQUESTED = datetime(2030, 1, 7, 8, tzinfo=UTC)
POLICY = SlaPolicy(
    {"critical": 4, "high": 8, "normal": 24, "low": 72}, {"critical": 24, "high": 48, "normal": 120, "low": 240}, 0.75
)


def test_a_commitment_within_the_policy_passes():
    check_commitment(
        POLICY, Priority.CRITICAL, REQUESTED, REQUESTED, REQUESTED + timedelta(hours=3), REQUESTED + timedelta(hours=20)
    )


@pytest.mark.parametrize(
    ("arrive", "resolve", "field", "words"),
    [
        (5, 20, "commitment.arrive_by", "within 4 h"),
        (3, 25, "commitment.resolve_by", "within 24 h"),
        (3, 2, "commitment.resolve_by", "not be before arrive_by"),
        (-1, 20, "commitment.arrive_by", "in the future"),
    ],
)
def test_a_commitment_outside_the_policy_names_the_field(arrive, resolve, field, words):
    with pytest.raises(Refusal) as refused:
        check_commitment(
            POLICY,
            Priority.CRITICAL,
            REQUESTED,
            REQUESTED,
            REQUESTED + timedelta(hours=arrive),
            REQUESTED + timedelta(hours=resolve),
        )
    refusal = refused.value
    assert refusal.kind == RefusalKind.INVALID
    assert refusal.field == field and words in refusal.detail


def test_at_risk_after_the_configured_share_of_the_time_and_breach_at_the_deadline():
    state = POLICY.deadline_state(REQUESTED, REQUESTED + timedelta(hours=4))
    assert state.at_risk_at == REQUESTED + timedelta(hours=3)
    assert due_alerts(state, REQUESTED + timedelta(hours=2, minutes=59)) == (False, False)
    assert due_alerts(state, REQUESTED + timedelta(hours=3)) == (True, False)
    raised = state.model_copy(update={"at_risk_raised_at": REQUESTED})
    assert due_alerts(raised, REQUESTED + timedelta(hours=4)) == (False, True)
    met = state.model_copy(update={"met_at": REQUESTED})
    assert due_alerts(met, REQUESTED + timedelta(hours=5)) == (False, False)


def test_the_policy_is_configurable_from_the_environment(monkeypatch):
    monkeypatch.setenv("SLA_ARRIVE_WITHIN_HOURS", '{"critical": 2, "high": 6, "normal": 12, "low": 48}')
    monkeypatch.setenv("SLA_AT_RISK_FRACTION", "0.5")
    settings = DispatchSettings()
    assert settings.sla_arrive_within_hours["critical"] == 2
    assert SlaPolicy.from_settings(settings).at_risk_fraction == 0.5


def test_a_policy_without_every_priority_is_refused(monkeypatch):
    monkeypatch.setenv("SLA_RESOLVE_WITHIN_HOURS", '{"critical": 2}')
    with pytest.raises(ValueError, match="missing: high, normal, low"):
        DispatchSettings()
