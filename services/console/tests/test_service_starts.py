from console_service.app import SERVICE

from compressor_kit.testing import assert_service_starts

from .console_story import console_settings


async def test_the_console_starts_declares_its_queue_and_is_ready(test_settings):
    await assert_service_starts(SERVICE, console_settings(test_settings))
