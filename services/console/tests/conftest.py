import pytest

from .site import site_databases  # noqa: F401  (the fixture, for every test here)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test with a site starts real service processes: it is `slow`, so xdist starts it early (the kit
    # sorts slow tests first) instead of leaving it for the end of the run.
    for item in items:
        if "site_databases" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
