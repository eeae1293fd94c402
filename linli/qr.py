"""Signed QR codes (二维码): volunteer and diner cards (static), station codes (rotating).

A code is a URL on LINLI_BASE_URL, e.g. `HTTP://127.0.0.1:8000/Q/V.K1.AEAQCAI.MFRGGZDFMZTWQ2LK`:
kind . key id . base32 body . base32 MAC. Everything is upper case and from the QR alphanumeric
set, so a code fits QR version 5 at error correction M (tested). The MAC is HMAC-SHA256 with a
per-purpose key derived from LINLI_SECRET_KEY, cut to 80 bits.
"""

from __future__ import annotations

import base64
import io
import struct
from dataclasses import dataclass
from datetime import datetime

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

from linli.signing import Signer

PURPOSE = "qr"
MAC_BYTES = 10
STATION_STEP_SECONDS = 30
MAX_PAYLOAD = 300  # anything longer is not ours

# kind letter → body layout
_LAYOUTS = {"V": ">IH", "D": ">IH", "S": ">II"}  # volunteer/diner: id, card version; station: id, step
KIND_NAMES = {"V": "volunteer_card", "D": "diner_card", "S": "station_code"}


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


@dataclass(frozen=True)
class Code:
    kind: str  # volunteer_card | diner_card | station_code
    subject_id: int  # volunteer, diner or station id
    number: int  # card version, or the station code's time step


class InvalidCode(ValueError):
    """Not a code this engine made, or altered."""


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STATION_STEP_SECONDS


class Codes:
    def __init__(self, signer: Signer, base_url: str) -> None:
        self.signer = signer
        self.base_url = base_url.rstrip("/").upper()
        self._kids = {kid.upper(): kid for kid in signer.key_ids}

    def _make(self, kind: str, *fields: int) -> str:
        kid = self.signer.active_kid
        body = _b32(struct.pack(_LAYOUTS[kind], *fields))
        head = f"{kind}.{kid.upper()}.{body}"
        mac = _b32(self.signer.mac(PURPOSE, head.encode(), kid)[:MAC_BYTES])
        return f"{self.base_url}/Q/{head}.{mac}"

    def volunteer_card(self, volunteer_id: int, version: int) -> str:
        return self._make("V", volunteer_id, version)

    def diner_card(self, diner_id: int, version: int) -> str:
        return self._make("D", diner_id, version)

    def station_code(self, station_id: int, at: datetime) -> str:
        return self._make("S", station_id, step_of(at))

    def parse(self, payload: str) -> Code:
        """The code inside a scanned payload (the full URL, or just its last path part)."""
        if not isinstance(payload, str) or not payload or len(payload) > MAX_PAYLOAD:
            raise InvalidCode("empty or too long")
        token = payload.strip().rsplit("/", 1)[-1].upper()
        parts = token.split(".")
        if len(parts) != 4:
            raise InvalidCode("not four parts")
        kind, kid_upper, body, mac = parts
        if kind not in _LAYOUTS or kid_upper not in self._kids:
            raise InvalidCode("unknown kind or key")
        try:
            raw = _unb32(body)
            fields = struct.unpack(_LAYOUTS[kind], raw)
            mac_raw = _unb32(mac)
        except (ValueError, struct.error) as exc:
            raise InvalidCode("malformed") from exc
        head = f"{kind}.{kid_upper}.{body}"
        if not self.signer.verify(PURPOSE, head.encode(), mac_raw, self._kids[kid_upper], length=MAC_BYTES):
            raise InvalidCode("bad signature")
        return Code(kind=KIND_NAMES[kind], subject_id=fields[0], number=fields[1])


def _qr(data: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_version(data: str) -> int:
    return _qr(data).version


def png(data: str, box_size: int = 10) -> bytes:
    qr = _qr(data)
    qr.box_size = box_size
    buf = io.BytesIO()
    qr.make_image().save(buf, format="PNG")
    return buf.getvalue()


def svg(data: str) -> bytes:
    buf = io.BytesIO()
    _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buf)
    return buf.getvalue()
