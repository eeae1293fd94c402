"""Pages people open in a browser (页面). The tablet, phone and partner pages grow here."""

from __future__ import annotations

from html import escape

from litestar import MediaType, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from accounts.sender import DEMO_INBOX_KEY
from linli.runtime import Runtime

_STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;font-size:20px;
max-width:40em;margin:2em auto;padding:0 1em;color:#222}h1{font-size:2em}a{color:#0a5}
li{margin:.4em 0}code{background:#eee;padding:0 .2em}
"""


def page_html(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


@get("/", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=False)
def index(rt: NamedDependency[Runtime]) -> str:
    demo = (
        '<li><a href="/demo/codes">演示：查看已发送的登录验证码 Demo: login codes sent</a></li>'
        if rt.settings.demo
        else ""
    )
    return page_html(
        "邻里 Linli",
        "<h1>邻里 Linli</h1><p>社区志愿服务与长者助餐 · Community volunteering and meal assistance</p><ul>"
        '<li><a href="/schema">接口文档 API docs</a> (<a href="/schema/openapi.json">OpenAPI</a>)</li>'
        '<li><a href="/readyz">运行状态 Readiness</a> · <a href="/metrics">指标 Metrics</a></li>'
        f"{demo}</ul>",
    )


@get("/demo/codes", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=True)
def demo_codes(rt: NamedDependency[Runtime]) -> str:
    """What the default (log) sender "sent": only in demo mode, so a newcomer can log in."""
    if not rt.settings.demo:
        return page_html("邻里 Linli", "<p>演示模式未开启 Demo mode is off</p>")
    try:
        sent = [m.decode() for m in rt.redis.lrange(DEMO_INBOX_KEY, 0, 19)]
    except Exception:
        sent = []
    rows = "".join(f"<li><code>{escape(m)}</code></li>" for m in sent) or "<li>暂无 None yet</li>"
    return page_html(
        "演示验证码 Demo codes",
        "<h1>演示：登录验证码</h1><p>短信网关接入前，验证码写入服务器日志和此页。"
        "Until an SMS gateway is plugged in, codes go to the server log and this page.</p>"
        f'<ul>{rows}</ul><p><a href="/demo/codes">刷新 Refresh</a></p>',
    )


_SCAN_SCRIPT = """
const token = localStorage.getItem('linli_token');
const box = document.getElementById('answer');
if (!token) {
  box.textContent = '请先登录志愿者账号 Please log in first';
} else {
  fetch('/api/v1/scans', {method: 'POST', headers: {'Content-Type': 'application/json',
    'Authorization': 'Bearer ' + token}, body: JSON.stringify({payload: location.href,
    scan_id: crypto.randomUUID()})})
    .then(r => r.json()).then(a => {
      box.textContent = a.message || a.detail;
      box.className = a.outcome === 'rejected' || !a.outcome ? 'no' : (a.outcome === 'duplicate' ? 'again' : 'ok');
    }).catch(() => { box.textContent = '网络异常，请重试 Network problem, please retry'; });
}
"""


@get(
    ["/Q/{code:str}", "/q/{code:str}"],
    media_type=MediaType.HTML,
    include_in_schema=False,
    sync_to_thread=False,
)
def scan_page(code: FromPath[str]) -> str:
    """Where a phone camera lands after scanning a station code: it sends the scan and shows the answer."""
    return page_html(
        "扫码签到 Check in",
        "<style>#answer{font-size:2em;padding:1em;border-radius:.5em;background:#eee}"
        ".ok{background:#c8f7c5!important}.again{background:#ffe9a8!important}.no{background:#ffc9c9!important}"
        '</style><h1>邻里 扫码签到</h1><p id="answer">正在签到… Checking in…</p>'
        f"<script>{_SCAN_SCRIPT}</script>",
    )
