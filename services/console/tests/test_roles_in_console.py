"""Who may open which page of the console, as the issue gives each person their part: every seed person
signs in at the real provider and opens every page, including pages of other roles typed by hand. A page
not for the person's role answers 403; a page for it opens even with every service down (it says the
service is unavailable, and nothing crashes); the menu offers only the person's own pages."""

from __future__ import annotations

import re

import pytest
from console_service.app import SERVICE
from litestar import HttpMethod

from compressor_kit.testing.ports import free_port

from .console_story import console_settings, running_console, sign_in

RECEPTION, DISPATCHER, ENGINEER, INSPECTOR, MANAGER, ADMIN, CUSTOMER = (
    "reception",
    "dispatcher",
    "engineer",
    "inspector",
    "manager",
    "admin",
    "customer",
)
PEOPLE = {
    "aisyah": RECEPTION,
    "daniel": DISPATCHER,
    "lim": ENGINEER,
    "meiling": INSPECTOR,
    "rahman": MANAGER,
    "siti": ADMIN,
    "aminah": CUSTOMER,
}
JOB = "JOB-2026-000001"

# Each page of the console (as typed into the address bar) and the roles whose part it is.
PAGES: dict[str, set[str]] = {
    # An engineer is sent on to /field, a customer to /portal.
    "/": {RECEPTION, DISPATCHER, INSPECTOR, MANAGER, ADMIN, ENGINEER, CUSTOMER},
    f"/jobs/{JOB}": {RECEPTION, DISPATCHER, ENGINEER, INSPECTOR, MANAGER, ADMIN},
    f"/jobs/{JOB}/report": {RECEPTION, DISPATCHER, ENGINEER, INSPECTOR, MANAGER, ADMIN},
    "/equipment/EQ-1": {RECEPTION, DISPATCHER, ENGINEER, INSPECTOR, MANAGER, ADMIN},
    "/reception": {RECEPTION, MANAGER, ADMIN},
    "/reception/callbacks": {RECEPTION, MANAGER, ADMIN},
    "/reception/customers/new": {RECEPTION, MANAGER, ADMIN},
    "/reception/customers/CUST-1": {RECEPTION, MANAGER, ADMIN},
    "/reception/customers/CUST-1/sites/new": {RECEPTION, MANAGER, ADMIN},
    "/reception/customers/CUST-1/equipment/new": {RECEPTION, MANAGER, ADMIN},
    "/reception/customers/CUST-1/call": {RECEPTION, MANAGER, ADMIN},
    "/reception/customers/CUST-1/labels": {RECEPTION, MANAGER, ADMIN},
    "/reception/fault-reports": {RECEPTION, MANAGER, ADMIN},
    "/dispatch": {DISPATCHER},
    f"/dispatch/jobs/{JOB}": {DISPATCHER},
    "/dispatch/schedule": {DISPATCHER, MANAGER, ADMIN},
    "/field": {ENGINEER},
    f"/field/jobs/{JOB}": {ENGINEER},
    f"/field/jobs/{JOB}/plan": {ENGINEER},
    f"/field/jobs/{JOB}/work": {ENGINEER},
    f"/field/jobs/{JOB}/review": {ENGINEER},
    f"/field/jobs/{JOB}/sign": {ENGINEER},
    "/inspections": {INSPECTOR},
    "/inspections/INS-1": {INSPECTOR},
    "/manager": {MANAGER, ADMIN},
    "/manager/reports": {MANAGER, ADMIN},
    f"/manager/reports/{JOB}/pdf": {MANAGER, ADMIN},
    "/manager/plans": {MANAGER},
    "/manager/reviews": {MANAGER, ENGINEER},
    f"/manager/reviews/{JOB}": {MANAGER, ENGINEER},
    "/admin/dead-letters": {ADMIN},
    # The customer portal: customers only (a job, report or machine of another customer answers 404 there).
    "/portal": {CUSTOMER},
    "/portal/requests/new": {CUSTOMER},
    f"/portal/jobs/{JOB}": {CUSTOMER},
    f"/portal/jobs/{JOB}/plan": {CUSTOMER},
    f"/portal/jobs/{JOB}/report": {CUSTOMER},
    f"/portal/jobs/{JOB}/survey": {CUSTOMER},
    "/portal/reports": {CUSTOMER},
    "/portal/equipment": {CUSTOMER},
    "/portal/equipment/EQ-1": {CUSTOMER},
}
# Event streams: their roles are checked in their own tests.
STREAMS = {"/live", "/manager/alerts/live", "/portal/jobs/{}/live"}


def _page_paths() -> set[str]:
    app_paths = set()
    for handler in SERVICE.route_handlers:
        for method_handler in getattr(handler, "route_handlers", [handler]):
            opt = getattr(method_handler, "opt", {}) or {}
            if opt.get("session") and HttpMethod.GET in (method_handler.http_methods or ()):
                app_paths.update(method_handler.paths)
    return app_paths


def test_every_page_of_the_console_has_its_roles_written_down_here():
    templated = {re.sub(r"\{[^}]+\}", "{}", path) for path in _page_paths()} - STREAMS
    listed = {re.sub(r"JOB-2026-000001|CUST-1|INS-1|EQ-1", "{}", path) for path in PAGES}
    assert templated == listed, f"pages without roles here: {templated - listed}; listed but gone: {listed - templated}"


@pytest.mark.parametrize("username", list(PEOPLE))
async def test_each_person_opens_only_their_own_pages_and_sees_only_their_own_menu(
    username, test_settings, identity_provider
):
    role = PEOPLE[username]
    nowhere = {
        f"{service}_url": f"http://127.0.0.1:{free_port()}"
        for service in ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback")
    }
    async with running_console(console_settings(test_settings, **nowhere)) as console:
        await sign_in(console.client, identity_provider, username)
        for path, roles in PAGES.items():
            answer = await console.client.get(path)
            if role not in roles:
                assert answer.status_code == 403, (username, path, answer.status_code)
                continue
            assert answer.status_code in (200, 303, 503), (username, path, answer.status_code, answer.text[:300])
            if answer.status_code == 303:
                home = {ENGINEER: "/field", CUSTOMER: "/portal"}.get(role)
                assert path == "/" and answer.headers["location"] == home, (username, path, answer.headers)
            elif "/report" in path or path.endswith("/pdf"):
                assert "unavailable" in answer.text.lower(), (username, path)
            assert "Internal Server Error" not in answer.text

        home = await console.client.get({ENGINEER: "/field", CUSTOMER: "/portal"}.get(role, "/"))
        menu = set(re.findall(r'<nav class="roles".*?</nav>', home.text, flags=re.S)[0:1])
        links = set(re.findall(r'href="([^"]+)"', next(iter(menu), "")))
        assert links, f"{username} has no menu"
        for link in links:
            assert role in PAGES[link], f"{username}'s menu offers {link}, which is not for a {role}"
