"""Partners' webhooks (合作方回调): "your report is ready", signed, to a public https address.

A partner registers a URL and gets a secret (a new one each time). When a report of theirs is
built, the event `report.ready` is emitted; its job POSTs `notice` with
`X-Linli-Signature: t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 of `<t>.<body>` made when it is
sent: the time is inside what is signed, so a receiver that refuses an old `t` (docs/reports.md:
five minutes) cannot be fed a recorded delivery again later. The URL is checked when it is
registered and again before each delivery, and the delivery connects to the address checked: the
engine must never be a way into its own network. A delivery has `DEADLINE` seconds in all, and
deliveries have a queue of their own (`webhooks`), so no partner's server can hold up a login
code or a points award.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from linli.errors import FieldError, invalid
from reports.models import PartnerWebhook, Report

PURPOSE = "partner-webhook"
DEADLINE = 10  # seconds for a whole delivery
ANSWER_BYTES = 64 * 1024  # of a partner's answer, read and dropped


def secret(signer, partner_id: int, version: int) -> str:
    return signer.mac(PURPOSE, f"{partner_id}:{version}".encode()).hex()


def sign(key: str, body: bytes, at: int) -> str:
    """The `X-Linli-Signature` of `body` sent at `at` (Unix seconds): `t=<at>,v1=<hex>`, the
    HMAC-SHA256 of `<at>.<body>` with the partner's secret."""
    mac = hmac.new(key.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def problem(url: str, *, allow_private: bool) -> str | None:
    """Why the engine will not POST to this URL: not https, or a host inside the network (the
    engine must not be a way into it). Checked when registered and again before each delivery.
    A demo set-up (`LINLI_DEMO=1`) may use http and local addresses."""
    return _checked(url, allow_private=allow_private, resolve=not allow_private)[1]


def _checked(url: str, *, allow_private: bool, resolve: bool = True) -> tuple[str | None, str | None]:
    """(the address to connect to, None), or (None, why not). The name is resolved once, here:
    a delivery connects to the address that was checked, so a name that resolves elsewhere a
    moment later (DNS rebinding) cannot lead inside the network. (A demo set-up's URL is not
    resolved when it is registered.)"""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, "invalid_url"
    if not host or parts.scheme not in (("https", "http") if allow_private else ("https",)):
        return None, "invalid_url"
    if not resolve:
        return None, None
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
    except (OSError, UnicodeError):
        return None, "unresolvable_host"
    if not allow_private and not all(_public(a) for a in addresses):
        return None, "private_address"
    return addresses[0], None


NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _public(address: str) -> bool:
    """A global address, and so is any IPv4 address carried inside an IPv6 one (mapped
    ::ffff:a.b.c.d, compatible ::a.b.c.d, 6to4 2002::/16, Teredo, NAT64 64:ff9b::/96)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6:
        low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        carried = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if int(ip) >> 32 == 0 or any(ip in net for net in NAT64):
            carried.append(low)
        if any(v4 is not None and not v4.is_global for v4 in carried):
            return False
    return ip.is_global


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
    key: str = field(repr=False)  # the partner's secret: the signature is made when it is sent


def delivery(session: Session, signer, report_id: int, base_url: str) -> Delivery | None:
    """What to POST for a ready report (read in a transaction; sent after it), or None if its
    partner has no webhook."""
    report = session.get(Report, report_id)
    hook = session.get(PartnerWebhook, report.partner_id) if report and report.partner_id else None
    if hook is None:
        return None
    body = notice(report, base_url)
    return Delivery(hook.partner_id, hook.url, body, secret(signer, hook.partner_id, hook.secret_version))


class DeadlinePassed(RuntimeError):
    """The partner's server did not answer in time (a slow or trickling answer included)."""


def _connection(url: str, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to `address` (the one checked) for `url`'s host: its name is still sent as
    Host and, over https, checked against the certificate (SNI)."""
    parts = urlsplit(url)
    context = ssl.create_default_context() if parts.scheme == "https" else None
    # the class gives the default port, and the Host header without it
    cls = http.client.HTTPSConnection if context else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)

    def connect():
        raw = socket.create_connection((address, conn.port), timeout)
        conn.sock = context.wrap_socket(raw, server_hostname=parts.hostname) if context else raw

    conn.connect = connect
    return conn


def send(d: Delivery, *, at: int, allow_private: bool, deadline: float = DEADLINE) -> str | None:
    """POST it, signed as sent at `at` (Unix seconds; each try signs anew), to the address just
    checked, within `deadline` seconds in all (connecting, sending and the whole answer: a
    partner that trickles its answer a byte at a time is cut off). Returns why it was not sent
    (the URL now resolves inside the network), or None once the partner answered 2xx; anything
    else raises, so the job is retried later. Redirects are not followed (one could lead inside
    the network)."""
    address, wrong = _checked(d.url, allow_private=allow_private)
    if wrong:
        return wrong
    parts = urlsplit(d.url)
    conn = _connection(d.url, address, timeout=deadline)
    outcome: dict = {}

    def exchange():
        try:
            conn.request(
                "POST",
                (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                body=d.body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Linli-Event": "report.ready",
                    "X-Linli-Signature": sign(d.key, d.body, at),
                },
            )
            answer = conn.getresponse()
            answer.read(ANSWER_BYTES)
            outcome["status"] = answer.status
        except Exception as exc:  # raised below, in the job's thread
            outcome["error"] = exc

    worker = threading.Thread(target=exchange, name="linli-webhook", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        if conn.sock is not None:  # (none yet while still connecting: the timeout ends that)
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)  # the exchange ends with an error at once
        conn.close()
        raise DeadlinePassed(f"webhook: no whole answer within {deadline:g} s")
    conn.close()
    if "error" in outcome:
        raise outcome["error"]
    if outcome["status"] >= 300:
        raise RuntimeError(f"webhook answered {outcome['status']}")
    return None
