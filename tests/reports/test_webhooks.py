"""Deliveries to partners' servers (reports/webhooks.py): a whole delivery has a deadline, no
address inside the network is reached, however it is written, and the signature holds the time it
was sent, checked by the very function docs/reports.md gives partners."""

from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from reports import webhooks


class Trickle:
    """A server that answers one byte every 0.3 s, for ever (a partner's server that holds a
    worker: each read is quick, the answer never ends)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.closed_by_client = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        conn.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 10_000:
                conn.sendall(bytes([byte]))
                time.sleep(0.3)
        except OSError:
            self.closed_by_client.set()
        finally:
            conn.close()


def test_a_partner_that_trickles_its_answer_is_cut_off_at_the_deadline():
    server = Trickle()
    delivery = webhooks.Delivery(1, f"http://127.0.0.1:{server.port}/hook", b"{}", "secret")
    with pytest.raises(webhooks.DeadlinePassed):
        webhooks.send(delivery, at=int(time.time()), allow_private=True, deadline=1.5)
    assert server.closed_by_client.wait(5)  # the connection was closed, not left to the thread


@pytest.mark.parametrize(
    "url",
    [
        "https://[::127.0.0.1]/hook",  # IPv4-compatible
        "https://[::ffff:10.0.0.8]/hook",  # IPv4-mapped
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "https://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
        "https://[fd00::1]/hook",
        "https://169.254.169.254/latest",
    ],
)
def test_no_form_of_an_inside_address_is_accepted(url):
    assert webhooks.problem(url, allow_private=False) == "private_address"


def test_a_public_address_is_accepted():
    assert webhooks.problem("https://[2001:4860:4860::8888]/hook", allow_private=False) is None


def partners_verify():
    """The `verify` function docs/reports.md gives partners, run as written there."""
    doc = (Path(__file__).parents[2] / "docs" / "reports.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- verify-webhook -->\n```python\n(.*?)```", doc, re.S)[1]
    space: dict = {}
    exec(compile(code, "docs/reports.md", "exec"), space)
    return space["verify"]


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((self.headers["X-Linli-Signature"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_signature_holds_the_time_it_was_sent_and_fails_when_either_is_changed():
    """A recorded delivery cannot be replayed later: the time is inside the signed string, a
    receiver refuses a time outside the window, and a changed time or body does not verify."""
    verify = partners_verify()
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    sent_at = 1_900_000_000
    body = b'{"event": "report.ready", "report_id": 7}'
    delivery = webhooks.Delivery(3, f"http://127.0.0.1:{server.server_port}/hook", body, "s3cret")
    try:
        assert webhooks.send(delivery, at=sent_at, allow_private=True) is None
    finally:
        server.shutdown()
    [(header, received)] = Receiver.received
    assert received == body and header.startswith(f"t={sent_at},v1=")
    assert verify("s3cret", header, body, now=sent_at + 5)
    assert verify("s3cret", header, body, now=sent_at + 300)  # the edge of the replay window
    assert not verify("s3cret", header, body, now=sent_at + 301)  # replayed later: refused
    assert not verify("s3cret", header, body, now=sent_at - 301)  # from the future
    assert not verify("other", header, body, now=sent_at)
    assert not verify("s3cret", header, body.replace(b"7", b"8"), now=sent_at)  # body changed
    mac = header.split("v1=")[1]
    moved = f"t={sent_at + 600},v1={mac}"  # an old delivery passed off as a new one
    assert not verify("s3cret", moved, body, now=sent_at + 600)
    assert not verify("s3cret", "sha256=" + mac, body, now=sent_at)
    assert not verify("s3cret", "garbage", body, now=sent_at)
    # a retry later is signed anew, with its own time
    assert webhooks.sign("s3cret", body, sent_at + 60) != header
    assert verify("s3cret", webhooks.sign("s3cret", body, sent_at + 60), body, now=sent_at + 61)
