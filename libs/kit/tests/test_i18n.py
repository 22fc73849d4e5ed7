"""The kit's translations: extraction from Python and templates, the completeness check, the reader's
language and Malaysian formats."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from jinja2 import Environment

from compressor_contracts.common import Language
from compressor_kit import i18n


@pytest.fixture
def package(tmp_path: Path) -> Path:
    folder = tmp_path / "shop_service"
    (folder / "templates").mkdir(parents=True)
    (folder / "labels.py").write_text(
        'from compressor_kit.i18n import N_\nBOARD = N_("Job board")\n'
        'def greet(_, name):\n    return _("Hello %(name)s", name=name)\n'
    )
    (folder / "templates" / "page.html").write_text(
        '<h1>{{ _("Request service") }}</h1>\n'
        "{% trans count=n %}{{ count }} machine{% pluralize %}{{ count }} machines{% endtrans %}\n"
    )
    return folder


def test_extraction_finds_python_and_template_texts(package):
    found = {entry.id if isinstance(entry.id, str) else entry.id[0] for entry in i18n.extract(package) if entry.id}
    assert found == {"Job board", "Hello %(name)s", "Request service", "%(count)s machine"}


def test_a_text_without_its_malay_translation_is_reported_until_it_has_one(package):
    missing = i18n.update_catalogues(package)
    assert missing == {Language.MS: 4, Language.EN: 0}  # English is the source: filled from the ids
    assert sorted(i18n.untranslated(package)[Language.MS]) == sorted(
        ["Job board", "Hello %(name)s", "Request service", "%(count)s machine"]
    )
    unknown = i18n.merge(
        package,
        Language.MS,
        {
            "Job board": "Papan kerja",
            "Hello %(name)s": "Selamat datang, %(name)s",
            "Request service": "Mohon servis",
            "%(count)s machine": ["%(count)s mesin"],
            "Never written": "Tidak pernah",
        },
    )
    assert unknown == ["Never written"]
    assert i18n.untranslated(package) == {Language.MS: [], Language.EN: []}

    # A new text in a template is missing again, in Malay and (until `make i18n`) in English.
    page = package / "templates" / "page.html"
    page.write_text(page.read_text() + '<p>{{ _("Track your job") }}</p>\n')
    assert i18n.untranslated(package) == {Language.MS: ["Track your job"], Language.EN: ["Track your job"]}
    i18n.update_catalogues(package)
    assert i18n.untranslated(package) == {Language.MS: ["Track your job"], Language.EN: []}
    # Translations survive re-extraction.
    assert i18n.Catalogue(package).gettext("Request service", Language.MS) == "Mohon servis"


def test_pages_and_code_follow_the_readers_language(package):
    i18n.update_catalogues(package)
    i18n.merge(package, Language.MS, {"Request service": "Mohon servis", "%(count)s machine": ["%(count)s mesin"]})
    catalogue = i18n.Catalogue(package)
    environment = Environment(autoescape=True)
    catalogue.install(environment)
    template = environment.from_string((package / "templates" / "page.html").read_text())

    assert template.render(n=1) == "<h1>Request service</h1>\n1 machine"
    with i18n.speaking("ms-MY"):
        assert template.render(n=3) == "<h1>Mohon servis</h1>\n3 mesin"
        assert i18n.current_language() is Language.MS
    assert i18n.current_language() is Language.EN


def test_dates_and_numbers_as_written_in_malaysia():
    moment = datetime(2026, 3, 1, 14, 5, tzinfo=UTC)
    assert i18n.format_date(date(2026, 3, 1), language=Language.MS) == "1 Mac 2026"
    assert i18n.format_date(date(2026, 3, 1), language=Language.EN) == "1 March 2026"
    assert "PTG" in i18n.format_datetime(moment, language=Language.MS)  # petang: afternoon
    assert i18n.format_decimal(1234.5, language=Language.MS) == "1,234.5"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ms-MY,ms;q=0.9,en;q=0.8", Language.MS),
        ("en-GB, ms;q=0.9", Language.EN),
        ("fr-FR, ms;q=0.3", Language.MS),
        ("fr-FR", None),
        ("ms;q=0, en;q=0.1", Language.EN),
        (None, None),
    ],
)
def test_accept_language_picks_one_of_ours(header, expected):
    assert i18n.negotiate(header) is expected
