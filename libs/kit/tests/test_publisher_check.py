"""Who may have published a consumed event (compressor_kit.consumer.PublisherCheck), without servers:
the broker-side proof is tests/test_broker_permissions.py."""

import pytest
from pydantic import SecretStr

from compressor_contracts.catalogue import ForgedEvent
from compressor_contracts.examples import example_event
from compressor_kit.consumer import PublisherCheck
from compressor_kit.settings import Settings

PASSED = example_event("job.inspection_passed.v1")  # produced by quality


def settings(url: str, users: str = "{service}") -> Settings:
    return Settings(environment="test", rabbitmq_url=SecretStr(url), rabbitmq_publisher_users=users)


def test_on_unless_the_service_connects_as_guest():
    assert PublisherCheck.of(settings("amqp://guest:guest@127.0.0.1:5672/"), "dispatch") is None
    assert PublisherCheck.of(settings("amqp://127.0.0.1:5672/"), "dispatch") is None  # guest by default
    check = PublisherCheck.of(settings("amqp://dispatch:s3cret@rabbitmq:5672/compressor"), "dispatch")
    assert check == PublisherCheck("dispatch", "{service}")
    assert (
        PublisherCheck.of(settings("amqp://prod-dispatch:x@h/v", "prod-{service}"), "dispatch").user_of("quality")
        == "prod-quality"
    )


def test_the_users_pattern_must_name_the_service():
    with pytest.raises(ValueError, match="rabbitmq_publisher_users"):
        settings("amqp://dispatch:x@h/v", "quality")


def test_the_producers_user_is_accepted():
    PublisherCheck("dispatch").check(PASSED, "quality", {})


@pytest.mark.parametrize("user_id", [None, "guest", "maintenance", "dispatch", "quality-impostor"])
def test_any_other_publisher_is_a_forgery_naming_user_id(user_id):
    with pytest.raises(ForgedEvent) as caught:
        PublisherCheck("dispatch").check(PASSED, user_id, {})
    assert [e["field"] for e in caught.value.errors] == ["user_id"]
    assert "not by quality's ('quality')" in str(caught.value)


def test_the_service_replaying_its_own_dead_letter_is_accepted_and_nobody_else():
    own_replay = {"x-replayed-from": "dispatch.dead-letters"}
    PublisherCheck("dispatch").check(PASSED, "dispatch", own_replay)
    with pytest.raises(ForgedEvent):  # another service cannot pass for a replay of dispatch's
        PublisherCheck("dispatch").check(PASSED, "maintenance", own_replay)
    with pytest.raises(ForgedEvent):  # nor dispatch replay into another's queue
        PublisherCheck("maintenance").check(PASSED, "dispatch", own_replay)
    with pytest.raises(ForgedEvent):  # its own user without a replay is not quality
        PublisherCheck("dispatch").check(PASSED, "dispatch", {})
