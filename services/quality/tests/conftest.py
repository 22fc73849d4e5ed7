"""Fixtures for the quality service on the real servers (see quality_support)."""

from __future__ import annotations

import pytest

from .quality_support import running_quality


@pytest.fixture
async def quality(test_settings, test_db, tokens):
    async with running_quality(test_settings, test_db, tokens) as running:
        yield running
