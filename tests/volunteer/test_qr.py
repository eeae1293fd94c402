"""Signed QR codes: decoded by a real QR reader, short enough for version 5-M, tamper-proof (二维码)."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from PIL import Image

from linli import qr
from linli.signing import Signer


@pytest.fixture
def codes():
    return qr.Codes(Signer((("k1", b"a-test-signing-key-123456"),)), "http://127.0.0.1:8000")


def decode_png(data: bytes) -> str:
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    return found.text


def test_png_decodes_to_the_url_the_engine_accepts(codes):
    url = codes.volunteer_card(1234, 3)
    assert decode_png(qr.png(url)) == url
    assert codes.parse(decode_png(qr.png(url))) == qr.Code("volunteer_card", 1234, 3)
    station = codes.station_code(7, datetime(2026, 11, 26, 3, 30, tzinfo=UTC))
    assert codes.parse(decode_png(qr.png(station))).subject_id == 7


def test_svg_is_a_real_qr_code(codes):
    url = codes.volunteer_card(1234, 3)
    svg = qr.svg(url)
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    # render the same matrix to PNG through the same path and decode it: the SVG path is the same QR
    assert decode_png(qr.png(url)) == url


def test_codes_fit_version_5_at_level_m_even_with_a_long_base_url():
    long_codes = qr.Codes(
        Signer((("k12", b"a-test-signing-key-123456"),)), "https://linli.changsha-county.example.gov.cn"
    )
    for url in (
        long_codes.volunteer_card(2**32 - 1, 2**16 - 1),
        long_codes.diner_card(2**32 - 1, 2**16 - 1),
        long_codes.station_code(2**32 - 1, datetime(2100, 1, 1, tzinfo=UTC)),
    ):
        assert url == url.upper()  # alphanumeric mode
        assert qr.qr_version(url) <= 5


@pytest.mark.parametrize(
    "mangle",
    [
        lambda u: u[:-1],  # truncated
        lambda u: u[:-1] + ("A" if u[-1] != "A" else "B"),  # one character altered in the MAC
        lambda u: u.replace(".AAA", ".AAB", 1) if ".AAA" in u else u[:30] + "Z" + u[31:],  # body altered
        lambda u: "hello",
        lambda u: "",
        lambda u: u + "A" * 400,  # absurdly long
        lambda u: u.replace(".K1.", ".K9."),  # unknown key id
    ],
)
def test_anything_altered_is_invalid(codes, mangle):
    url = codes.volunteer_card(1234, 3)
    with pytest.raises(qr.InvalidCode):
        codes.parse(mangle(url))


def test_key_rotation_old_codes_still_verify():
    old = qr.Codes(Signer((("k1", b"the-old-signing-key-1234"),)), "http://x")
    new = qr.Codes(
        Signer((("k2", b"the-new-signing-key-5678"), ("k1", b"the-old-signing-key-1234"))), "http://x"
    )
    card = old.volunteer_card(5, 1)
    assert new.parse(card).subject_id == 5
    assert ".K2." in new.volunteer_card(5, 1)
    with pytest.raises(qr.InvalidCode):  # a key nobody configured cannot sign
        qr.Codes(Signer((("k1", b"somebody-elses-key-0000"),)), "http://x").parse(new.volunteer_card(5, 1))


def test_station_codes_rotate_every_30_seconds(codes):
    t = datetime(2026, 11, 26, 3, 30, 0, tzinfo=UTC)
    assert codes.station_code(1, t) == codes.station_code(1, t + timedelta(seconds=29))
    assert codes.station_code(1, t) != codes.station_code(1, t + timedelta(seconds=30))


def test_a_camera_frame_is_decoded_on_the_server_for_browsers_without_a_reader(client, rt):
    from tests.fixtures.builders import make_county, staff_token, staff_user

    county = make_county(rt)
    staff_user(rt, "hub", "admin", org_id=county.hub_a)
    headers = {**staff_token(client, "hub"), "content-type": "image/png"}
    card = rt.codes.volunteer_card(42, 1)
    frame = Image.new("RGB", (640, 480), "white")  # a camera frame with the card somewhere in it
    frame.paste(Image.open(io.BytesIO(qr.png(card))).convert("RGB").resize((220, 220)), (300, 150))
    jpeg = io.BytesIO()
    frame.save(jpeg, "JPEG")
    r = client.post(
        "/api/v1/qr/decode", content=jpeg.getvalue(), headers={**headers, "content-type": "image/jpeg"}
    )
    assert r.status_code == 200 and r.json() == {"payload": card}
    blank = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(blank, "PNG")
    assert client.post("/api/v1/qr/decode", content=blank.getvalue(), headers=headers).json() == {
        "payload": None
    }
    bad = client.post("/api/v1/qr/decode", content=b"not a picture", headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "not_an_image"
    big = client.post("/api/v1/qr/decode", content=b"\0" * (2 * 1024 * 1024 + 1), headers=headers)
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"
    assert client.post("/api/v1/qr/decode", content=blank.getvalue()).status_code == 401


def test_a_small_file_of_a_huge_picture_is_refused_before_it_is_decoded(client, rt):
    """A 9000x9000 PNG is a few hundred KB on the wire and hundreds of MB (GB in the decoder) in
    memory: its size is read from its header and it is refused, and the server's memory does
    not grow by what decoding it would take."""
    import resource

    from tests.fixtures.builders import make_county, staff_token, staff_user

    county = make_county(rt)
    staff_user(rt, "hub", "admin", org_id=county.hub_a)
    headers = {**staff_token(client, "hub"), "content-type": "image/png"}
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000), 1).save(bomb, "PNG", optimize=True)
    assert len(bomb.getvalue()) < 2 * 1024 * 1024  # within the body limit
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, this process's peak
    r = client.post("/api/v1/qr/decode", content=bomb.getvalue(), headers=headers)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "image_too_large", r.text
    assert grown < 40 * 1024, f"the peak grew by {grown} KiB"  # decoding it takes over 80 MB
    gif = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(gif, "GIF")  # only PNG and JPEG are read
    r = client.post("/api/v1/qr/decode", content=gif.getvalue(), headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "not_an_image"


@given(
    kind=st.sampled_from(["volunteer_card", "diner_card", "station_code"]),
    subject=st.integers(min_value=1, max_value=2**32 - 1),
    number=st.integers(min_value=1, max_value=2**16 - 1),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["replace", "insert", "delete"]),
            st.integers(min_value=0, max_value=200),
            st.sampled_from(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abc.=/-_ 019")),
        ),
        min_size=1,
        max_size=4,
    ),
)
@hyp_settings(max_examples=400, deadline=None)
def test_no_altered_code_is_ever_accepted(kind, subject, number, edits):
    """Property: a code changed anywhere in its signed part is refused, or reads as the very same
    code (upper/lower case, the URL before the last slash); never as another one."""
    codes = qr.Codes(Signer((("k1", b"a-test-signing-key-123456"),)), "http://127.0.0.1:8000")
    at = datetime(2026, 11, 26, 3, 30, tzinfo=UTC) + timedelta(seconds=30 * number)
    url = codes.station_code(subject, at) if kind == "station_code" else getattr(codes, kind)(subject, number)
    original = codes.parse(url)
    head, _, token = url.rpartition("/")
    for op, pos, ch in edits:
        pos %= len(token) + (op == "insert")
        if op == "replace":
            token = token[:pos] + ch + token[pos + 1 :]
        elif op == "insert":
            token = token[:pos] + ch + token[pos:]
        elif len(token) > 1:
            token = token[:pos] + token[pos + 1 :]
    try:
        got = codes.parse(f"{head}/{token}")
    except qr.InvalidCode:
        return
    assert got == original


def _two_tablets(client, rt) -> tuple[dict, dict, bytes]:
    from tests.fixtures.builders import make_county, staff_token, staff_user

    county = make_county(rt)
    staff_user(rt, "tablet_a", "coordinator", org_id=county.org_a)
    staff_user(rt, "tablet_b", "coordinator", org_id=county.org_a)
    frame = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(frame, "PNG")
    png = {"content-type": "image/png"}
    return (
        {**staff_token(client, "tablet_a"), **png},
        {**staff_token(client, "tablet_b"), **png},
        frame.getvalue(),
    )


def test_one_tablet_cannot_take_every_decode_turn(client, rt):
    """While other frames are being read (both of the process's turns taken), a tablet sends two
    frames at once and another tablet one: the first tablet's second frame is refused at once
    (429, retry_after), so when a turn comes free the other tablet gets it."""
    import threading
    import time

    from api.scans import DECODES

    tablet_a, tablet_b, frame = _two_tablets(client, rt)
    answers: dict[str, list] = {"a": [], "b": []}

    def send(who: str, headers: dict) -> None:
        r = client.post("/api/v1/qr/decode", content=frame, headers=headers)
        answers[who].append((r.status_code, r.json(), r.headers.get("retry-after")))

    DECODES.acquire()
    DECODES.acquire()  # two frames of others being read
    released = threading.Timer(0.4, lambda: (DECODES.release(), DECODES.release()))
    released.start()
    first = threading.Thread(target=send, args=("a", tablet_a))
    first.start()
    time.sleep(0.1)
    others = [threading.Thread(target=send, args=args) for args in (("a", tablet_a), ("b", tablet_b))]
    for t in others:
        t.start()
    for t in (first, *others):
        t.join()
    released.join()
    assert sorted(status for status, _, _ in answers["a"]) == [200, 429], answers
    refused = next(a for a in answers["a"] if a[0] == 429)
    assert refused[1]["code"] == "rate_limited" and refused[1]["retry_after"] == 1 and refused[2] == "1"
    assert [status for status, _, _ in answers["b"]] == [200], answers  # the other tablet got a turn


def test_frames_are_limited_per_device(client, rt, clock):
    """`FRAMES_PER_DEVICE` frames a minute per tablet (counted in Redis); then 429 with
    retry_after for that tablet only."""
    from linli.ratelimit import FRAMES_PER_DEVICE

    tablet_a, tablet_b, frame = _two_tablets(client, rt)
    most, window = FRAMES_PER_DEVICE
    for _ in range(most):
        assert client.post("/api/v1/qr/decode", content=frame, headers=tablet_a).status_code == 200
    r = client.post("/api/v1/qr/decode", content=frame, headers=tablet_a)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert 0 < r.json()["retry_after"] <= window and r.headers["retry-after"] == str(r.json()["retry_after"])
    assert client.post("/api/v1/qr/decode", content=frame, headers=tablet_b).status_code == 200
    clock.at += timedelta(seconds=window)
    assert client.post("/api/v1/qr/decode", content=frame, headers=tablet_a).status_code == 200
