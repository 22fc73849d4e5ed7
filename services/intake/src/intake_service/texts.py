"""What intake writes for people to read, in Bahasa Melayu and English (`locale/`, extracted by `make i18n`).

`_("...")` translates into the reader's language (`compressor_kit.i18n.speaking`); `N_("...")` marks a
text that is translated later, where it is shown.
"""

from compressor_kit.i18n import N_, Catalogue

TEXTS = Catalogue("intake_service")
_ = TEXTS.gettext
ngettext = TEXTS.ngettext

__all__ = ["N_", "TEXTS", "_", "ngettext"]
