"""The pages' languages (界面语言): Simplified Chinese first, English alongside, through gettext.

Templates are written in Chinese and mark what people read with `_("…")`; the English catalog
(`api/locale/en/LC_MESSAGES/messages.po`, Babel's PO format) translates it. A page's language comes
from `?lang=`, then the `linli_lang` cookie, then the browser's Accept-Language; Chinese otherwise.
Refresh the catalog after changing a template: `pybabel extract -F api/babel.cfg -o /tmp/m.pot api`
then `pybabel update -i /tmp/m.pot -d api/locale` (see docs/pages.md).
"""

from __future__ import annotations

import gettext
import re
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


HAN = re.compile(r"[\u3400-\u9fff]")
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")  # characters and their punctuation
QUOTED = re.compile(r"“[^”]*”|「[^」]*」")


def split_message(message: str) -> tuple[str, str]:
    """ "签到成功 Checked in" → ("签到成功", "Checked in"): the engine's bilingual messages, by language.

    The English starts at the first word in Latin letters or digits after some Chinese from which on
    no Chinese character or punctuation follows (a name in “quotes” aside), so "应为0到1440分钟 0 to
    1440 minutes" splits right; a Chinese half ends in Chinese ("scan_id 应为 UUID 格式 scan_id must
    be a UUID", not "… 应为 UUID scan_id …"). The same rule as `split` in
    api/static/linli.js (the pages' problems); without English both halves are the whole message."""
    for i in range(1, len(message)):
        ch, before = message[i], message[i - 1]
        if not (ch.isascii() and ch.isalnum()) or (
            before.isascii() and (before.isalnum() or before in "_{.")
        ):
            continue
        if HAN.search(message[:i]) and not CHINESE.search(QUOTED.sub("", message[i:])):
            return message[:i].strip(), message[i:].strip()
    return message, message
