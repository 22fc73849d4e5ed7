"""docs/roles.md (who may do what, generated from every service's routes) stays current, and every
route but the health checks, the metrics scrape and the customer's survey declares its roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from compressor_contracts.topology import SERVICES
from compressor_kit.roles import document, routes

ROOT = Path(__file__).resolve().parent.parent


def test_the_roles_document_is_current():
    assert (ROOT / "docs/roles.md").read_text() == document(list(SERVICES)), "run `make docs`"


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_health_checks_and_the_customers_survey_are_open(service):
    """The survey is reached with its own token (in the link the customer received), not a bearer token;
    a machine's label with the unguessable id it carries."""
    open_routes = [(method, path) for method, path, roles, _ in routes(service) if not roles]
    surveys = [(method, path) for method, path in open_routes if path.startswith("/surveys/{token}")]
    assert not surveys or service == "feedback"
    # The console's sign-in (before anyone is signed in) and its stylesheet and script are open too.
    console = [("GET", "/auth/callback"), ("GET", "/auth/login"), ("GET", "/static/{file_path}")]
    signing_in = [route for route in open_routes if route in console]
    assert not signing_in or service == "console"
    # A machine's QR label: anyone who scans it sees the model and serial and may report a fault (intake's
    # lookup and report; the console's scan page), rate-limited per machine and per address.
    labels = {
        "intake": [("GET", "/labels/{label_id}"), ("POST", "/labels/{label_id}/fault-reports")],
        "console": [("GET", "/m/{label_id}"), ("POST", "/m/{label_id}")],
    }.get(service, [])
    scanning = [route for route in open_routes if route in labels]
    # Health checks and Prometheus's scrape: for the internal network, never routed by the public proxy.
    expected = [("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/metrics")]
    assert sorted(set(open_routes) - set(surveys) - set(signing_in) - set(scanning)) == expected, open_routes
