from compressor_kit.testing import assert_service_starts
from feedback_service.app import SERVICE


async def test_the_feedback_service_starts_declares_its_queues_and_is_ready(test_settings):
    await assert_service_starts(SERVICE, test_settings)
