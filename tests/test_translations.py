"""Everything a customer (or a member of staff) reads exists in Bahasa Melayu and in English.

Texts are extracted from each service's code and templates right now and looked up in its catalogues:
a new `_("...")` without its Malay translation fails here until `make i18n` and a translator fill it in.
"""

from __future__ import annotations

import pytest

from compressor_contracts.common import Language
from compressor_kit import i18n

SERVICES = ("intake", "dispatch", "maintenance", "quality", "reporting", "feedback", "telemetry", "console")
# Where customers look: the portal and console, e-mails and webhooks, the survey, the report, progress messages.
MUST_SPEAK_BOTH = {"console", "feedback", "reporting", "maintenance"}
TRANSLATED = [s for s in SERVICES if (i18n.package_dir(s) / "locale").is_dir()]


def test_every_service_that_customers_read_has_catalogues():
    assert MUST_SPEAK_BOTH <= set(TRANSLATED)


@pytest.mark.parametrize("service", TRANSLATED)
def test_every_text_has_both_translations(service):
    lacking = i18n.untranslated(i18n.package_dir(service))
    assert lacking == {Language.MS: [], Language.EN: []}, f"run `make i18n`, then translate: {lacking}"
