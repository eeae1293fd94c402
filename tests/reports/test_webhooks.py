"""Deliveries to partners' servers (reports/webhooks.py): a whole delivery has a deadline, and
no address inside the network is reached, however it is written."""

from __future__ import annotations

import socket
import threading
import time

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
    delivery = webhooks.Delivery(1, f"http://127.0.0.1:{server.port}/hook", b"{}", "sha256=00")
    with pytest.raises(webhooks.DeadlinePassed):
        webhooks.send(delivery, allow_private=True, deadline=1.5)
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
