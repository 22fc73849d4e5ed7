"""Bahasa Melayu and English: each service's gettext catalogues, the reader's language, and locale formats.

A service marks its texts with `_("...")` (Python) or `{{ _("...") }}` / `{% trans %}` (Jinja2). Its
catalogues live in `<package>/locale/<ms|en>/LC_MESSAGES/messages.po`; `make i18n` extracts the
marked texts into them (`python -m compressor_kit.i18n extract <service>...`), keeping what is already
translated. The English texts are the message ids, so the English catalogue is filled from them; the
Malay one is written by a person. `untranslated()` is what the test that keeps them complete calls.

The reader's language is a context variable: a page handler, a consumer writing an e-mail or a PDF
renderer sets it with `speaking(language)` (or `set_language` for a whole request), and every `_()`,
Jinja2 template and `format_*` call below follows it.

    python -m compressor_kit.i18n extract console feedback      (make i18n)
    python -m compressor_kit.i18n merge console ms texts.json   (add translations: {"msgid": "msgstr"})
    python -m compressor_kit.i18n check console feedback        (exit 1 listing what lacks a translation)
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale, dates, numbers
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

from compressor_contracts.common import Language

LANGUAGES: tuple[Language, ...] = (Language.MS, Language.EN)
DEFAULT_LANGUAGE = Language.EN
# Dates and numbers as written in Malaysia: "1 Mac 2026", "1,234.50" in both languages.
LOCALES: dict[Language, Locale] = {Language.MS: Locale("ms", "MY"), Language.EN: Locale("en", "MY")}
DOMAIN = "messages"
# N_ marks a text to translate later (a module-level label), without translating it where it is written.
KEYWORDS: dict[str, Any] = {**DEFAULT_KEYWORDS, "N_": None}
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**/templates/**.txt", "jinja2"), ("**.py", "python")]
OPTIONS_MAP = {"**/templates/**": {"trim_blocks": "true", "lstrip_blocks": "true", "newstyle_gettext": "true"}}

_language: ContextVar[Language] = ContextVar("language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Marks a text for extraction where it cannot be translated yet (a module-level label); `_()` it when shown."""
    return message


# --- the reader's language -------------------------------------------------------------------------------


def current_language() -> Language:
    return _language.get()


def set_language(language: Language) -> Token[Language]:
    """The language for the rest of this context (a request); `reset_language(token)` undoes it."""
    return _language.set(language)


def reset_language(token: Token[Language]) -> None:
    _language.reset(token)


@contextmanager
def speaking(language: Language | str | None) -> Iterator[Language]:
    """Within the block, texts and formats are in `language` (the default language when None or unknown)."""
    chosen = parse_language(language) or DEFAULT_LANGUAGE
    token = _language.set(chosen)
    try:
        yield chosen
    finally:
        _language.reset(token)


def parse_language(value: object) -> Language | None:
    """'ms', 'ms-MY', 'ms_MY', 'EN'... as a Language; None for anything else."""
    if isinstance(value, Language):
        return value
    if not isinstance(value, str) or not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return Language(code) if code in {lang.value for lang in LANGUAGES} else None


def negotiate(accept_language: str | None) -> Language | None:
    """The first of our languages in an Accept-Language header, by quality; None when none is listed."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, Language]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = parse_language(tag)
        if language is not None and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


# --- formats ---------------------------------------------------------------------------------------------


def locale_of(language: Language | None = None) -> Locale:
    return LOCALES[language or current_language()]


def format_date(value: date, format: str = "long", language: Language | None = None) -> str:
    return dates.format_date(value, format=format, locale=locale_of(language))


def format_datetime(
    value: datetime, format: str = "medium", tz: tzinfo | None = None, language: Language | None = None
) -> str:
    return dates.format_datetime(value, format=format, tzinfo=tz, locale=locale_of(language))


def format_decimal(number: float | Decimal | int, format: str | None = None, language: Language | None = None) -> str:
    return numbers.format_decimal(number, format=format, locale=locale_of(language))


def format_currency(amount: float | Decimal, currency: str = "MYR", language: Language | None = None) -> str:
    return numbers.format_currency(amount, currency, locale=locale_of(language))


# --- catalogues ------------------------------------------------------------------------------------------


def package_dir(service: str) -> Path:
    """The source folder of `<service>_service` (or of a package named in full)."""
    name = service if service.endswith(("_service", "_kit")) else f"{service}_service"
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"no package {name!r}")
    return Path(next(iter(spec.submodule_search_locations)))


def po_path(package: Path, language: Language) -> Path:
    return package / "locale" / language.value / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(path: Path, language: Language) -> Catalog:
    if not path.exists():
        return Catalog(locale=str(language), domain=DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, locale=str(language), domain=DOMAIN)


class Catalogue:
    """One service's translations in both languages, compiled in memory from its .po files at start."""

    def __init__(self, package: str | Path) -> None:
        folder = package if isinstance(package, Path) else package_dir(package)
        self.translations: dict[Language, Translations] = {}
        for language in LANGUAGES:
            compiled = io.BytesIO()
            write_mo(compiled, _read(po_path(folder, language), language), use_fuzzy=False)
            compiled.seek(0)
            self.translations[language] = Translations(compiled, domain=DOMAIN)

    def gettext(self, message: str, language: Language | None = None, **variables: Any) -> str:
        text = self.translations[language or current_language()].gettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, n: int, language: Language | None = None, **variables: Any) -> str:
        text = self.translations[language or current_language()].ngettext(singular, plural, n)
        return text % {"num": n, **variables}

    def pgettext(self, context: str, message: str, language: Language | None = None) -> str:
        return str(self.translations[language or current_language()].pgettext(context, message))

    def install(self, environment: Any) -> None:
        """Give a Jinja2 environment `_`, `gettext`, `ngettext` and `{% trans %}` in the current language,
        and the filters `date`, `datetime` and `number` in its formats."""
        environment.add_extension("jinja2.ext.i18n")
        # New-style gettext: Jinja2 formats the variables itself, so these answer the raw translation.
        environment.install_gettext_callables(
            gettext=lambda message: self.translations[current_language()].gettext(message),
            ngettext=lambda singular, plural, n: self.translations[current_language()].ngettext(singular, plural, n),
            pgettext=lambda context, message: self.translations[current_language()].pgettext(context, message),
            newstyle=True,
        )
        environment.globals["current_language"] = current_language
        environment.globals["languages"] = LANGUAGES
        environment.filters["date"] = format_date
        environment.filters["datetime"] = format_datetime
        environment.filters["number"] = format_decimal


# --- extraction and the completeness check ---------------------------------------------------------------


def extract(package: Path) -> Catalog:
    """Every marked text in a package's Python code and templates, as a template catalogue."""
    template = Catalog(domain=DOMAIN, project="compressor-service", fuzzy=False)
    found = extract_from_dir(
        str(package), method_map=METHOD_MAP, options_map=OPTIONS_MAP, keywords=KEYWORDS, strip_comment_tags=True
    )
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def update_catalogues(package: Path) -> dict[Language, int]:
    """Write both catalogues from the code: new texts added, vanished ones dropped, translations kept.
    English is filled from the message ids. Answers how many texts each language still lacks."""
    template = extract(package)
    missing: dict[Language, int] = {}
    if not len(template) and not (package / "locale").exists():
        return missing  # nothing to translate here (yet)
    for language in LANGUAGES:
        path = po_path(package, language)
        catalogue = _read(path, language)
        catalogue.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalogue.obsolete.clear()
        if language is Language.EN:
            for entry in catalogue:
                if entry.id and not _translated(entry):
                    entry.string = entry.id
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, catalogue)
        missing[language] = sum(1 for entry in catalogue if entry.id and not _translated(entry))
    return missing


def merge(package: Path, language: Language, texts: dict[str, str | list[str]]) -> list[str]:
    """Set translations (msgid → msgstr, or a list of plural forms); answers the ids not in the catalogue."""
    path = po_path(package, language)
    catalogue = _read(path, language)
    unknown = []
    for message_id, text in texts.items():
        entry = catalogue.get(message_id) or next(
            (e for e in catalogue if isinstance(e.id, tuple) and e.id[0] == message_id), None
        )
        if entry is None:
            unknown.append(message_id)
            continue
        entry.string = tuple(text) if isinstance(text, list) else text
        entry.flags.discard("fuzzy")
    _write(path, catalogue)
    return unknown


def untranslated(package: Path) -> dict[Language, list[str]]:
    """Per language, the texts marked in the code that its catalogue lacks, leaves empty or marks fuzzy."""
    wanted = extract(package)
    result: dict[Language, list[str]] = {}
    for language in LANGUAGES:
        catalogue = _read(po_path(package, language), language)
        lacking = []
        for entry in wanted:
            if not entry.id:
                continue
            have = catalogue.get(entry.id, context=entry.context)
            if have is None or not _translated(have):
                lacking.append(entry.id if isinstance(entry.id, str) else entry.id[0])
        result[language] = lacking
    return result


def _translated(entry: Any) -> bool:
    if entry.fuzzy:
        return False
    strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
    return bool(strings) and all(s and s.strip() for s in strings)


def _write(path: Path, catalogue: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalogue, width=100, sort_output=True, omit_header=False, include_lineno=False)
    temporary = path.with_suffix(".po.tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(path)  # atomic: a reader never sees half a catalogue


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "extract":
        for service in args:
            missing = update_catalogues(package_dir(service))
            counts = ", ".join(f"{lang}: {n} untranslated" for lang, n in missing.items())
            print(f"{service}: {counts or 'no texts marked'}")
        return 0
    if command == "merge":
        service, language, source = args
        unknown = merge(package_dir(service), Language(language), json.loads(Path(source).read_text()))
        for message_id in unknown:
            print(f"not in the catalogue (run make i18n first?): {message_id!r}", file=sys.stderr)
        return 1 if unknown else 0
    if command == "check":
        failed = False
        for service in args:
            for language, lacking in untranslated(package_dir(service)).items():
                for message_id in lacking:
                    failed = True
                    print(f"{service} [{language}] lacks: {message_id!r}")
        return 1 if failed else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
