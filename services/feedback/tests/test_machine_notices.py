"""A machine's notice, about no job: telemetry's equipment.went_silent e-mails each management recipient
over the real SMTP server, once however often the event is delivered."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from compressor_contracts.examples import example
from compressor_kit.testing import eventually
from feedback_service.templates import render_message


async def test_a_machine_gone_silent_is_told_to_management_by_e_mail_once(harness, smtp, test_db):
    sink, _ = smtp
    managers = harness.settings.management_recipients()
    silent = example("equipment.went_silent.v1")
    event = await harness.publish(silent)
    await harness.republish(event)  # redelivered: nothing sent twice

    async def delivered():
        docs = list(test_db.notifications.find({"about_event_id": event.id, "status": "delivered"}))
        return docs if len(docs) == len(managers) else None

    notices = await eventually(delivered, timeout=30)
    assert {n["recipient"] for n in notices} == set(managers)
    assert all(n["job_id"] is None and n["audience"] == "management" for n in notices)
    for manager in managers:
        [mail] = sink.to(manager)
        assert sink.subject(mail).startswith(f"Machine {silent.equipment_id} silent: no reading since ")
        body = sink.body(mail)
        assert f"Device {silent.device_id} of machine {silent.equipment_id}" in body
        assert f"Days without a reading: {silent.silent_days}" in body
        assert "gateway may be down" in body
    assert len(sink.messages) == len(managers)


def test_the_silence_notice_is_written_in_malay_too():
    silent = example("equipment.went_silent.v1").model_copy(update={"last_reading_at": None})
    context = {"event": silent.model_dump(mode="json")}
    subject, body = render_message("management-equipment-silent", context, "ms", ZoneInfo("Asia/Kuala_Lumpur"))
    assert subject == f"Mesin {silent.equipment_id} senyap: tiada bacaan sejak didaftarkan"
    assert f"Hari tanpa bacaan: {silent.silent_days}" in body
