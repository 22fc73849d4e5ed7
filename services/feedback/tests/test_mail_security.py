"""E-mail on a real local SMTP server (aiosmtpd): STARTTLS verifies the server's certificate and host
name (a private CA only through SMTP_CA_FILE), and a line break in a name or subject never adds a
header or a recipient."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from compressor_contracts.common import Engineer
from compressor_kit.testing import eventually
from compressor_kit.testing.ports import free_port
from feedback_service.notifications.channels import DeliveryFailed, send_email
from feedback_service.settings import FeedbackSettings

INJECTION = "\r\nBcc: intruder@evil.example"
HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "X-Compressor-Notification-Id", "Content-Language"}
MIME_HEADERS = {"Content-Type", "Content-Transfer-Encoding", "MIME-Version"}


@dataclass
class Envelopes:
    """aiosmtpd handler keeping each accepted message with its envelope recipients."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    # The feedback harness's sink interface (conftest.MailSink), for the whole-service test below.
    @property
    def messages(self) -> list[EmailMessage]:
        return [message for _, message in self.received]


@dataclass
class Certificates:
    ca_file: Path
    server: ssl.SSLContext  # the SMTP server's certificate (127.0.0.1), signed by the CA
    other_host: ssl.SSLContext  # signed by the same CA, for mail.example.com only


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _server_context(tmp: Path, label: str, ca_key, ca_cert, names: list[x509.GeneralName]) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(label))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp / f"{label}.pem", tmp / f"{label}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Certificates:
    """A private CA (made here with `cryptography`), and server certificates it signed."""
    tmp = tmp_path_factory.mktemp("smtp-tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Compressor test mail CA"))
        .issuer_name(_name("Compressor test mail CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    local = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    return Certificates(
        ca_file=ca_file,
        server=_server_context(tmp, "local", ca_key, ca_cert, local),
        other_host=_server_context(tmp, "other", ca_key, ca_cert, [x509.DNSName("mail.example.com")]),
    )


def _serve(handler: Envelopes, tls: ssl.SSLContext | None) -> tuple[Controller, int]:
    port = free_port()
    options = {"tls_context": tls, "require_starttls": True} if tls else {}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, port


@pytest.fixture
def starttls_server(certificates) -> Iterator[tuple[Envelopes, int]]:
    """A real SMTP server that takes mail only after STARTTLS, with the CA-signed 127.0.0.1 certificate."""
    handler = Envelopes()
    controller, port = _serve(handler, certificates.server)
    try:
        yield handler, port
    finally:
        controller.stop()


def settings(port: int, **changes) -> FeedbackSettings:
    return FeedbackSettings(environment="test", smtp_host="127.0.0.1", smtp_port=port, **changes)


async def mail(settings: FeedbackSettings, *, to: str = "amir.hassan@example.com.my", subject: str = "Hello") -> None:
    await send_email(settings, to=to, subject=subject, body="Body.\n", notification_id="N-1", language="en")


async def test_starttls_refuses_a_certificate_no_trusted_ca_signed(starttls_server):
    sink, port = starttls_server
    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
        await mail(settings(port, smtp_starttls=True))
    assert sink.received == []


async def test_starttls_with_the_private_ca_configured_delivers(starttls_server, certificates):
    sink, port = starttls_server
    await mail(settings(port, smtp_starttls=True, smtp_ca_file=str(certificates.ca_file)))
    assert [recipients for recipients, _ in sink.received] == [["amir.hassan@example.com.my"]]


async def test_starttls_refuses_a_trusted_certificate_for_another_host(certificates):
    """Signed by the configured CA, but for mail.example.com: the host name is checked too."""
    handler = Envelopes()
    controller, port = _serve(handler, certificates.other_host)
    try:
        with pytest.raises(DeliveryFailed, match=r"CERTIFICATE_VERIFY_FAILED|match"):
            await mail(settings(port, smtp_starttls=True, smtp_ca_file=str(certificates.ca_file)))
    finally:
        controller.stop()
    assert handler.received == []


def test_a_missing_ca_file_or_a_password_in_clear_is_refused_at_start(tmp_path):
    with pytest.raises(RuntimeError, match="SMTP_CA_FILE"):
        settings(25, smtp_ca_file=str(tmp_path / "absent.pem")).check_production()
    production = {
        "environment": "production",
        "rabbitmq_url": "amqp://feedback:" + "p" * 24 + "@rabbitmq/compressor",
        "s3_secret_key": "s" * 40,
        "oidc_issuer": "https://login.example.com/realms/compressor",
        "portal_url": "https://service.example.my",
        "smtp_username": "mailer",
    }
    with pytest.raises(RuntimeError, match="SMTP_USERNAME is set without SMTP_STARTTLS"):
        FeedbackSettings(**production).check_production()
    FeedbackSettings(**production, smtp_starttls=True).check_production()


def _one_well_formed_message(sink: Envelopes, to: str) -> EmailMessage:
    assert len(sink.received) == 1, sink.received
    recipients, message = sink.received[0]
    assert recipients == [to]
    assert set(message.keys()) == HEADERS | MIME_HEADERS, message.keys()
    assert not message.defects and all(not message[name].defects for name in message.keys())
    assert "intruder" not in str(message["To"]) and "Bcc" not in message
    return message


async def test_a_line_break_in_a_subject_never_adds_a_header_or_a_recipient():
    sink = Envelopes()
    controller, port = _serve(sink, None)
    try:
        await mail(settings(port), subject=f"JOB-1: Lim Wei Jie{INJECTION}\r\n\r\nA body of its own")
    finally:
        controller.stop()
    message = _one_well_formed_message(sink, "amir.hassan@example.com.my")
    assert message["Subject"] == "JOB-1: Lim Wei Jie Bcc: intruder@evil.example A body of its own"
    assert message.get_content().strip() == "Body."


async def test_a_recipient_with_a_line_break_is_not_sent_to():
    sink = Envelopes()
    controller, port = _serve(sink, None)
    try:
        with pytest.raises(DeliveryFailed, match="not one e-mail address"):
            await mail(settings(port), to=f"amir.hassan@example.com.my{INJECTION}")
    finally:
        controller.stop()
    assert sink.received == []


@pytest.fixture
def smtp() -> Iterator[tuple[Envelopes, int]]:
    """The harness's SMTP server (conftest's `smtp`), recording envelopes as well."""
    sink = Envelopes()
    controller, port = _serve(sink, None)
    try:
        yield sink, port
    finally:
        controller.stop()


async def test_a_name_with_a_line_break_in_an_event_makes_one_well_formed_e_mail(harness, smtp, story):
    """The whole service: the contact's and the engineer's names carry CR LF and a Bcc: header."""
    sink, _ = smtp
    job = story()
    job.contact = job.contact.model_copy(update={"name": f"Amir Hassan{INJECTION}"})
    await harness.publish(job.requested())
    engineer = Engineer(engineer_id="ENG-014", name=f"Lim Wei Jie{INJECTION}")
    await harness.publish(job.data("job.engineer_dispatched.v1", engineer=engineer))

    def about_the_engineer() -> list[tuple[list[str], EmailMessage]]:
        return [(to, m) for to, m in sink.received if "Lim Wei Jie" in str(m["Subject"])]

    async def sent():
        return about_the_engineer() or None

    await eventually(sent, timeout=30)
    assert len(about_the_engineer()) == 1
    for recipients, message in sink.received:  # management's e-mails about the request too
        assert len(recipients) == 1 and "intruder@evil.example" not in recipients
        assert set(message.keys()) == HEADERS | MIME_HEADERS, message.keys()
    [(recipients, _)] = about_the_engineer()
    assert recipients == [job.contact.email]
