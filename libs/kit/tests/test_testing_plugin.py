"""The test plugin marks what needs the servers (`make test-fast` leaves those out) and starts the
heaviest tests first."""

import pytest

from compressor_kit.testing import _start_order


def test_a_test_on_the_servers_is_marked_needs_servers(request: pytest.FixtureRequest, test_db):
    assert request.node.get_closest_marker("needs_servers") is not None
    assert test_db.name.startswith("test_")


def test_a_test_without_servers_is_not_marked(request: pytest.FixtureRequest):
    assert request.node.get_closest_marker("needs_servers") is None


def test_whole_deployments_start_first(request: pytest.FixtureRequest):
    by_path = {item.nodeid.split("::")[0]: _start_order(item) for item in request.session.items}
    heaviest = [order for path, order in by_path.items() if path.startswith(("tests/e2e/", "tests/faults/"))]
    if heaviest:  # only when the run includes them
        assert max(heaviest) < _start_order(request.node)
