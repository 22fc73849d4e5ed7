"""Webhooks cannot be aimed at internal hosts (SSRF), on the real servers: without the test-only
WEBHOOK_ALLOW_INTERNAL_HOSTS, registration refuses http and every loopback, private, link-local
(metadata), multicast, unspecified or reserved address, also behind a host name, with 422 naming url;
a delivery re-resolves the host and never connects to such an address; and only admins read a webhook's
whole URL (others get scheme://host)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from compressor_kit.testing import eventually
from compressor_kit.testing.ports import free_port

from .test_notifications import bearer

REFUSED = [
    "http://127.0.0.1/hooks/compressor",
    "http://10.0.0.1",
    "https://10.0.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hooks",
    "https://localhost/hooks",  # a name resolving to loopback
    "https://192.168.1.20/hooks",
    "https://172.16.0.1/hooks",
    "https://[fd00::1]/hooks",  # unique local
    "https://[fe80::1]/hooks",
    "https://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped loopback
    "https://0.0.0.0/hooks",
    "https://224.0.0.1/hooks",  # multicast
    "https://240.0.0.1/hooks",  # reserved
    "https://100.64.0.1/hooks",  # carrier-grade NAT
    "https://user:secret@93.184.215.14/hooks",
    "ftp://93.184.215.14/hooks",
]
PUBLIC = "https://93.184.215.14/hooks/compressor?token=s3cr3t"


def problem_fields(response) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {error["field"] for error in response.json().get("errors", [])}


@pytest.mark.parametrize("url", REFUSED)
async def test_registering_a_webhook_at_an_internal_or_plain_http_address_is_refused_naming_url(
    harness_for, tokens, test_db, url
):
    harness = await harness_for(webhook_allow_internal_hosts=False)
    refused = await harness.client.put(
        "/customers/CUST-0107/webhook", json={"url": url}, headers=bearer(tokens, "admin-1", "admin")
    )
    assert refused.status_code == 422, refused.text
    assert problem_fields(refused) == {"url"}
    assert test_db.webhooks.count_documents({}) == 0


async def test_a_public_https_webhook_is_accepted_and_only_admins_read_its_whole_url(harness_for, tokens, test_db):
    harness = await harness_for(webhook_allow_internal_hosts=False)
    admin = bearer(tokens, "admin-1", "admin")
    registered = await harness.client.put("/customers/CUST-0107/webhook", json={"url": PUBLIC}, headers=admin)
    assert registered.status_code == 200, registered.text
    assert (await harness.client.get("/customers/CUST-0107/webhook", headers=admin)).json()["url"] == PUBLIC
    for role in ("manager", "reception"):
        shown = await harness.client.get("/customers/CUST-0107/webhook", headers=bearer(tokens, f"{role}-1", role))
        assert shown.status_code == 200, shown.text
        assert shown.json()["url"] == "https://93.184.215.14"
    engineer = await harness.client.get("/customers/CUST-0107/webhook", headers=bearer(tokens, "eng-1", "engineer"))
    assert engineer.status_code == 403


async def test_the_test_setting_is_ignored_in_production(feedback_settings_for):
    production = feedback_settings_for(environment="production", webhook_allow_internal_hosts=True)
    assert not production.webhooks_may_reach_internal_hosts()
    assert feedback_settings_for().webhooks_may_reach_internal_hosts()  # test environment, set explicitly
    assert not feedback_settings_for(webhook_allow_internal_hosts=False).webhooks_may_reach_internal_hosts()


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts (none may arrive)."""
    port, accepted = free_port(), []
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.05)
    stop = False

    def accept() -> None:
        while not stop:
            try:
                connection, peer = server.accept()
            except TimeoutError:
                continue
            accepted.append(peer[0])
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port, accepted
    finally:
        stop = True
        thread.join()
        server.close()


async def test_a_delivery_resolves_the_host_again_and_never_connects_to_an_internal_address(
    harness_for, story, test_db, tokens, listener
):
    """A webhook whose name now resolves to loopback (as if its DNS changed after registration, written
    straight into the store): every attempt is refused before connecting, and the notification lists it
    redacted to non-admins."""
    port, accepted = listener
    harness = await harness_for(webhook_allow_internal_hosts=False)
    url = f"https://localhost:{port}/hooks/compressor?token=s3cr3t"
    test_db.webhooks.insert_one(
        {"_id": "CUST-0107", "url": url, "secret": "x" * 43, "updated_at": harness.clock.now(), "updated_by": "t"}
    )
    job = story(preferred="webhook")
    await harness.publish(job.requested())
    await harness.publish(job.data("job.engineer_dispatched.v1"))

    async def refused():
        doc = test_db.notifications.find_one({"job_id": job.job_id, "channel": "webhook"})
        return doc if doc and doc.get("last_error") else None

    failed = await eventually(refused, timeout=30)
    assert failed["status"] == "pending" and failed["attempts"] == 1
    assert "refused: localhost resolves to" in failed["last_error"] and "loopback" in failed["last_error"]
    assert "token" not in failed["last_error"] and "/hooks" not in failed["last_error"]
    await asyncio.sleep(0.3)  # a connection attempt would have arrived by now
    assert accepted == []

    listed = await harness.client.get(
        f"/jobs/{job.job_id}/notifications", headers=bearer(tokens, "manager-1", "manager")
    )
    [webhook] = [n for n in listed.json()["items"] if n["channel"] == "webhook"]
    assert webhook["recipient"] == "https://localhost"
    as_admin = await harness.client.get(f"/jobs/{job.job_id}/notifications", headers=bearer(tokens, "a-1", "admin"))
    [whole] = [n for n in as_admin.json()["items"] if n["channel"] == "webhook"]
    assert whole["recipient"] == url


async def test_a_delivery_posts_to_the_checked_address_with_the_host_name_in_the_host_header(
    harness, story, test_db, tokens, webhook_receiver
):
    """The connection goes to the address the check resolved (the receiver listens on 127.0.0.1 only), and
    the receiver still sees the name it is known by."""
    port = webhook_receiver.url.split(":")[2].split("/")[0]
    url = f"http://localhost:{port}/hooks/compressor"
    admin = bearer(tokens, "admin-1", "admin")
    assert (await harness.client.put("/customers/CUST-0107/webhook", json={"url": url}, headers=admin)).is_success
    job = story(preferred="webhook")
    await harness.publish(job.requested())
    await harness.publish(job.data("job.engineer_dispatched.v1"))

    async def posted():
        return webhook_receiver.requests or None

    [post] = await eventually(posted, timeout=30)
    assert post["path"] == "/hooks/compressor"
    assert {k.lower(): v for k, v in post["headers"].items()}["host"] == f"localhost:{port}"
