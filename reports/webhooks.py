"""Partners' webhooks (合作方回调): "your report is ready", signed, to a public https address.

A partner registers a URL and gets a secret (a new one each time). When a report of theirs is
built, the event `report.ready` is emitted; its job POSTs `notice` with
`X-Linli-Signature: sha256=<hex>` (HMAC-SHA256 over the body). The URL is checked when it is
registered and again before each delivery: the engine must never be a way into its own network.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from linli.errors import FieldError, invalid
from reports.models import PartnerWebhook, Report

PURPOSE = "partner-webhook"
TIMEOUT = 10  # seconds


def secret(signer, partner_id: int, version: int) -> str:
    return signer.mac(PURPOSE, f"{partner_id}:{version}".encode()).hex()


def sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def problem(url: str, *, allow_private: bool) -> str | None:
    """Why the engine will not POST to this URL: not https, or a host inside the network (the
    engine must not be a way into it). Checked when registered and again before each delivery.
    A demo set-up (`LINLI_DEMO=1`) may use http and local addresses."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "invalid_url"
    if not host or parts.scheme not in (("https", "http") if allow_private else ("https",)):
        return "invalid_url"
    if allow_private:
        return None
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return "unresolvable_host"
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            return "private_address"
    return None


def register(
    session: Session, signer, partner_id: int, url: str, now: datetime, *, allow_private: bool
) -> tuple[PartnerWebhook, str]:
    """Register (or replace) a partner's webhook; the secret is returned this once (a new one
    each time: the old stops being used)."""
    url = (url or "").strip()
    wrong = "invalid_url" if not 10 <= len(url) <= 500 or " " in url else None
    wrong = wrong or problem(url, allow_private=allow_private)
    if wrong:
        raise invalid([FieldError("url", wrong, "应为可从互联网访问的 https:// 网址 A public https:// URL")])
    hook = session.get(PartnerWebhook, partner_id)
    if hook is None:
        hook = PartnerWebhook(partner_id=partner_id, url=url, secret_version=1, created_at=now)
        session.add(hook)
    else:
        hook.url, hook.secret_version, hook.created_at = url, hook.secret_version + 1, now
    session.flush()
    return hook, secret(signer, partner_id, hook.secret_version)


def notice(report: Report, base_url: str) -> bytes:
    return json.dumps(
        {
            "event": "report.ready",
            "report_id": report.id,
            "kind": report.kind,
            "period_start": report.period_start.isoformat(),
            "period_end": report.period_end.isoformat(),
            "format": report.format,
            "sha256": report.sha256,
            "url": f"{base_url.rstrip('/')}/api/v1/reports/{report.id}/file",
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()


@dataclass(frozen=True)
class Delivery:
    partner_id: int
    url: str
    body: bytes
    signature: str


def delivery(session: Session, signer, report_id: int, base_url: str) -> Delivery | None:
    """What to POST for a ready report (read in a transaction; sent after it), or None if its
    partner has no webhook."""
    report = session.get(Report, report_id)
    hook = session.get(PartnerWebhook, report.partner_id) if report and report.partner_id else None
    if hook is None:
        return None
    body = notice(report, base_url)
    key = secret(signer, hook.partner_id, hook.secret_version)
    return Delivery(hook.partner_id, hook.url, body, sign(key, body))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead inside the network
        return None


def send(d: Delivery, *, allow_private: bool) -> str | None:
    """POST it. Returns why it was not sent (the URL now resolves inside the network), or None
    once the partner answered 2xx; anything else raises, so the job is retried."""
    wrong = problem(d.url, allow_private=allow_private)
    if wrong:  # the name may resolve elsewhere now
        return wrong
    request = urllib.request.Request(
        d.url,
        data=d.body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Linli-Event": "report.ready",
            "X-Linli-Signature": d.signature,
        },
    )
    with urllib.request.build_opener(_NoRedirects).open(request, timeout=TIMEOUT) as answer:
        if answer.status >= 300:
            raise RuntimeError(f"webhook answered {answer.status}")
    return None
