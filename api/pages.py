"""Pages people open in a browser (页面): the counter tablet, the volunteer's phone, the partner
portal and the hub's admin pages, plus the landing pages a scanned code opens.

Each page is a Jinja template rendered here in the reader's language (`api/i18n.py`), with a little
plain JavaScript (`api/static/`) that calls the same JSON API as everyone else, with the token
that person logged in with: a page can never show more than the API would show them.
"""

from __future__ import annotations

from pathlib import Path

from litestar import MediaType, Request, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from accounts.sender import DEMO_INBOX_KEY
from api import i18n
from linli.runtime import Runtime
from scans.answers import MESSAGES

HERE = Path(__file__).parent
TEMPLATES = TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)
STATIC = create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False)


# Pages load only this site's own scripts, styles and images (blob: for cards and codes fetched with
# the token), are never framed, and may use the camera here only.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


def render(request: Request, name: str, **context) -> Template:
    """A page in the reader's language; `?lang=en` (or zh) is remembered in a cookie for a year."""
    asked = request.query_params.get("lang")
    lang = i18n.pick(asked, request.cookies.get(i18n.COOKIE), request.headers.get("accept-language", ""))
    t = i18n.translations(lang)
    # the engine's answers (a scan's reason) are bilingual: each page gets them in its language
    reasons = {code: i18n.split_message(text)[lang == "en"] for code, text in MESSAGES.items()}
    cookies = [Cookie(key=i18n.COOKIE, value=lang, max_age=365 * 86400, samesite="lax")] if asked else []
    return Template(
        template_name=name,
        context={"_": t.gettext, "lang": lang, "path": request.url.path, "reasons": reasons, **context},
        cookies=cookies,
        headers=PAGE_HEADERS,
    )


def _page(path: str | list[str], name: str):
    @get(path, media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=False, name=name)
    def handler(request: Request) -> Template:
        return render(request, f"{name}.html")

    return handler


index = _page("/", "index")
counter_page = _page("/counter", "counter")
phone_page = _page("/me", "me")
partner_page = _page("/partner", "partner")
admin_page = _page("/admin", "admin")
rounds_admin_page = _page(["/admin/rounds", "/admin/rounds/{round_id:int}"], "rounds_admin")
proposals_page = _page("/proposals", "proposals")
review_page = _page("/review", "review")
wall_page = _page("/wall/{org_id:int}", "wall")  # a hub's (or county's) dashboard full screen


@get("/demo/codes", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=True)
def demo_codes(request: Request, rt: NamedDependency[Runtime]) -> Template:
    """What the default (log) sender "sent": only in demo mode, so a newcomer can log in."""
    sent = []
    if rt.settings.demo:
        try:
            sent = [m.decode() for m in rt.redis.lrange(DEMO_INBOX_KEY, 0, 19)]
        except Exception:
            sent = []
    return render(request, "demo_codes.html", demo=rt.settings.demo, sent=sent)


@get(
    ["/Q/{code:str}", "/q/{code:str}"],
    media_type=MediaType.HTML,
    include_in_schema=False,
    sync_to_thread=False,
)
def scan_page(request: Request, code: FromPath[str]) -> Template:
    """Where a phone camera lands after scanning a station code: it sends the scan and shows the answer."""
    return render(request, "scan.html")


ROUTES = [
    index,
    counter_page,
    phone_page,
    partner_page,
    admin_page,
    rounds_admin_page,
    proposals_page,
    review_page,
    wall_page,
    demo_codes,
    scan_page,
    STATIC,
]
