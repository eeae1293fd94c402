"""The scan door over HTTP (扫码): one scan, an offline tablet's batch, and reading a QR code
from a camera frame for browsers that cannot."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import anyio
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, RawBody

from accounts.principal import Principal
from api.deps import AUTH, door_threads, require_staff
from api.problems import problems
from integrity import service as integrity
from linli import ratelimit
from linli.errors import FieldError, forbidden, invalid, too_many
from linli.runtime import Runtime
from scans import door
from scans.schemas import DecodedFrame, Device, ScanBatch, ScanBatchResult, ScanBody, ScanResult

MAX_FRAME_BYTES = 2 * 1024 * 1024
# A camera frame is a few megapixels; a small file can claim far more (a 258 KB PNG of 9000x9000
# took 3.4 GB to decode). The size in its header is read before any pixel, and a few decodes run
# at once per process; others wait a moment, then are told to try again. Each device (its token)
# has one frame read at a time, so one tablet cannot take every turn, and
# `ratelimit.FRAMES_PER_DEVICE` frames a minute across processes.
MAX_FRAME_PIXELS = 4096 * 3072
DECODES = threading.BoundedSemaphore(2)
DECODE_WAIT = 0.5  # seconds: a waiting decode holds a server thread; the camera sends another frame
_DECODING: set[str] = set()  # devices with a frame being read, or waiting for a turn, in this process
_DECODING_LOCK = threading.Lock()


def device_of(principal: Principal, request: Request) -> Device:
    label = request.headers.get("x-device-id", "")[:60]
    if principal.kind == "volunteer":
        return Device(
            "volunteer",
            f"phone:{principal.volunteer_id} {label}".strip(),
            volunteer_id=principal.volunteer_id,
        )
    require_staff(principal, "admin", "coordinator")
    bound = principal.bound_station_ids
    paths = tuple(principal.staff_paths)
    return Device(
        "staff",
        f"staff:{principal.staff_user_id} {label}".strip(),
        staff_user_id=principal.staff_user_id,
        station_ids=bound,
        org_paths=paths,
    )


def _device_key(principal: Principal) -> str:
    """The device a request comes from, for its limits: its token."""
    return str(principal.token_id or principal.volunteer_id)


def _count_scan(rt: Runtime, principal: Principal) -> None:
    """Scans per device (its token): a tablet stuck in a loop, or a script, is slowed, not a counter."""
    ratelimit.check(
        rt.redis,
        f"scan:{_device_key(principal)}",
        (rt.settings.scans_per_minute, 60),  # a counter scans a card every few seconds; a batch counts once
        rt.clock.now(),
        "扫码过于频繁，请稍后再试 Too many scans from this device; try again shortly",
    )


@contextmanager
def _turn_of(device: str):
    """One frame at a time per device: another from the same device while its last is read (or
    waits for a turn) is refused at once, and leaves the turns to the other devices."""
    with _DECODING_LOCK:
        if device in _DECODING:
            raise too_many("上一帧还在识别，请稍候 This device's last frame is still being read", 1)
        _DECODING.add(device)
    try:
        yield
    finally:
        with _DECODING_LOCK:
            _DECODING.discard(device)


class QrController(Controller):
    """For a tablet or phone whose browser cannot read QR codes itself (no BarcodeDetector)."""

    path = "/api/v1/qr"
    tags = ["扫码 scans"]
    dependencies = AUTH

    @post(
        "/decode",
        operation_id="decodeFrame",
        status_code=200,
        sync_to_thread=True,
        summary="Read the QR code in a camera frame (PNG or JPEG, up to 2 MB and 4096x3072 pixels); the scan itself goes to /scans",
        request_max_body_size=MAX_FRAME_BYTES,
        responses=problems(_413="payload_too_large", _429="rate_limited"),
    )
    def decode(
        self, body: RawBody, principal: NamedDependency[Principal], rt: NamedDependency[Runtime]
    ) -> DecodedFrame:
        import io

        import zxingcpp
        from PIL import Image, UnidentifiedImageError

        device = _device_key(principal)
        ratelimit.check(
            rt.redis,
            f"frame:{device}",
            ratelimit.FRAMES_PER_DEVICE,
            rt.clock.now(),
            "识别过于频繁，请稍后再试 Too many frames from this device; try again shortly",
        )
        try:
            image = Image.open(io.BytesIO(body), formats=["PNG", "JPEG"])  # the header only
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise invalid(
                [FieldError("body", "not_an_image", "不是图片 Not a PNG or JPEG picture")]
            ) from None
        width, height = image.size
        if width * height > MAX_FRAME_PIXELS:
            raise invalid(
                [
                    FieldError(
                        "body",
                        "image_too_large",
                        f"图片像素过多（{width}x{height}），请用不超过 4096x3072 的画面"
                        f" Too many pixels ({width}x{height}): at most 4096x3072",
                    )
                ]
            )
        with _turn_of(device):
            if not DECODES.acquire(timeout=DECODE_WAIT):
                raise too_many("识别繁忙，请稍后再试 The decoder is busy; try again shortly", 1)
            try:
                image.load()
                found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            except (OSError, ValueError, Image.DecompressionBombError):
                raise invalid(
                    [FieldError("body", "not_an_image", "不是图片 Not a PNG or JPEG picture")]
                ) from None
            finally:
                DECODES.release()
        return DecodedFrame(payload=found[0].text if found else None)


def _scan(data: ScanBody, request: Request, principal: Principal, rt: Runtime) -> ScanResult:
    device = device_of(principal, request)
    _count_scan(rt, principal)
    integrity.heard(rt, device.staff_user_id, rt.clock.now())  # this device is online now
    item = door.check_input(data.input())
    return ScanResult.of(door.scan_online(rt, device, item, received_at=rt.clock.now()))


class ScanController(Controller):
    path = "/api/v1/scans"
    tags = ["扫码 scans"]
    dependencies = AUTH

    @post(
        "",
        operation_id="scan",
        status_code=200,
        summary="One scan: a volunteer's phone scanning a station code, or a tablet scanning a card",
        description="The answer is always 200 with an `outcome`; a refused scan is `rejected` with a `reason`.",
        responses=problems(_403="staff_only, role_required", _429="rate_limited"),
    )
    async def scan(
        self,
        data: JSONBody[ScanBody],
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> ScanResult:
        # on the door's own threads (`api.deps.door_threads`), never behind other requests
        return await anyio.to_thread.run_sync(_scan, data, request, principal, rt, limiter=door_threads())

    @post(
        "/batch",
        operation_id="scanBatch",
        status_code=200,
        sync_to_thread=True,
        summary="Scans captured offline by a tablet: judged as of their scan time, in time order",
        description="One result per scan, in the order sent. Sending the same batch again changes nothing "
        "and returns the same results. Scans more than 24 hours late are stored and flagged, not applied.",
        responses=problems(_403="staff_only, role_required", _429="rate_limited"),
    )
    def batch(
        self,
        data: JSONBody[ScanBatch],
        request: Request,
        principal: NamedDependency[Principal],
        rt: NamedDependency[Runtime],
    ) -> ScanBatchResult:
        device = device_of(principal, request)
        if device.kind != "staff":
            raise forbidden(
                "离线批量上传仅限工作人员设备 Offline batches come from staff tablets", "staff_only"
            )
        _count_scan(rt, principal)
        items = [door.check_input(s.input(), i) for i, s in enumerate(data.scans)]
        for i, item in enumerate(items):
            if item.scan_id is None or item.scanned_at is None:
                raise invalid(
                    [
                        FieldError(
                            f"scans[{i}]",
                            "required",
                            "离线扫码须带 scan_id 和 scanned_at 两项 Offline scans need scan_id and scanned_at",
                        )
                    ]
                )
        received_at = rt.clock.now()
        answers = door.scan_batch(rt, device, items, received_at=received_at)
        integrity.heard(rt, device.staff_user_id, received_at)
        return ScanBatchResult(results=[ScanResult.of(a) for a in answers])
