"""The pages' languages (界面语言): Simplified Chinese first, English alongside, through gettext.

Templates are written in Chinese and mark what people read with `_("…")`; the English catalog
(`api/locale/en/LC_MESSAGES/messages.po`, Babel's PO format) translates it. A page's language comes
from `?lang=`, then the `linli_lang` cookie, then the browser's Accept-Language; Chinese otherwise.
Refresh the catalog after changing a template: `pybabel extract -F api/babel.cfg -o /tmp/m.pot api`
then `pybabel update -i /tmp/m.pot -d api/locale` (see docs/pages.md).
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGS = ("zh", "en")
COOKIE = "linli_lang"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog for a language, compiled in memory from its PO file (no .mo files to keep)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == "zh" or not po.exists():
        return gettext.NullTranslations()  # the templates are Chinese already
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    mo = BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return gettext.GNUTranslations(mo)


def pick(query_lang: str | None, cookie: str | None, accept_language: str) -> str:
    for choice in (query_lang, cookie):
        if choice in LANGS:
            return choice
    first = accept_language.split(",", 1)[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


def split_message(message: str) -> tuple[str, str]:
    """ "签到成功 Checked in" → ("签到成功", "Checked in"): the engine's bilingual messages, by language."""
    for i, ch in enumerate(message):
        if ch.isascii() and ch.isalpha():
            return message[:i].strip(), message[i:].strip()
    return message, message
