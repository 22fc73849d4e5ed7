from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test with a site (services started for it: the kit's `database_prefix`) starts real service
    # processes: it is `slow`, so xdist starts it early (the kit sorts slow tests first) instead of
    # leaving it for the end of the run.
    for item in items:
        if HERE in item.path.parents and "database_prefix" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
