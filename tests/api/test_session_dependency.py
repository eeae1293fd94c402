"""The request's session (`api.deps.provide_session`), on the real engines: a handler that returns
commits; one that raises a `LinliError` writes nothing, unless the error asks to keep its writes;
a write the database refuses, in the handler or at the commit after it, is answered as it was
when handlers opened `rt.tx()` themselves (409 `concurrent_change`, never a 500)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.testing import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from api.deps import provide_session
from api.problems import EXCEPTION_HANDLERS
from linli.errors import LinliError
from linli.settings import TERMS_VERSION
from orgs import service as orgs_service
from points import shop
from points.models import ShopItem, ShopOrder
from reports.models import PartnerWebhook
from tests.fixtures.builders import register, staff_token, staff_user
from tests.points.test_shop import NOW, Shop
from volunteer.models import Volunteer


def takes_session(app: Litestar, operation_id: str) -> bool:
    """Whether the route answers through the request's session (not a `rt.tx()` of its own)."""
    for route in app.routes:
        for handler, _ in getattr(route, "route_handler_map", {}).values():
            if handler.operation_id == operation_id:
                return "session" in handler.parsed_fn_signature.parameters
    raise LookupError(operation_id)


@pytest.fixture
def world(client, rt, clock):
    clock.at = NOW
    return Shop(client, rt)


def volunteers_with(rt, phone: str) -> int:
    with rt.tx() as s:
        return s.scalar(select(func.count()).select_from(Volunteer).where(Volunteer.phone == phone))


def test_a_request_that_returns_commits(client, app, rt):
    assert takes_session(app, "registerVolunteer")
    volunteer = register(client, phone="13807310009")
    with rt.tx() as s:  # another session, after the answer: the row was committed
        assert s.get(Volunteer, volunteer["id"]).phone == "13807310009"


def test_a_refusal_writes_nothing(world, app, rt):
    assert takes_session(app, "placeOrder")
    world.give(0, 10)
    item = world.item(price=50, stock=3)
    # the order takes the stock and is inserted before the ledger refuses its points
    r = world.order(item)
    assert r.status_code == 409 and r.json()["code"] == "not_enough_points"
    with rt.tx() as s:
        assert s.get(ShopItem, item).stock == 3
        assert s.scalar(select(func.count()).select_from(ShopOrder)) == 0


def test_a_refusal_that_asks_to_keep_its_writes_keeps_them(world, app, rt, clock):
    assert takes_session(app, "fulfilOrder")
    world.give(0, 100)
    item = world.item(stock=2)
    order = world.order(item).json()["id"]
    clock.at = NOW + shop.ORDER_TTL + timedelta(minutes=1)
    late = world.client.post(
        f"/api/v1/shop/orders/{order}/fulfil",
        json={"payload": world.card(0)},
        headers=staff_token(world.client, "counter"),
    )
    assert late.status_code == 409 and late.json()["code"] == "order_expired"  # LinliError(commit=True)
    with rt.tx() as s:  # the release was committed with the refusal
        assert s.get(ShopOrder, order).status == "expired"
        assert s.get(ShopItem, item).stock == 2
    assert world.points()["available"] == 100


def test_a_write_the_database_refuses_in_the_handler_is_409(rt, app, clock, live_server):
    """Two partners' staff set the webhook at once: the later insert waits for the earlier, then
    the primary key refuses it (IntegrityError at the handler's flush)."""
    if rt.settings.is_sqlite:
        pytest.skip("SQLite takes the write lock at BEGIN: the later request sees the earlier row")
    assert takes_session(app, "setPartnerWebhook")
    with rt.tx() as s:
        partner = orgs_service.create_partner(s, name="泉心社会企业", now=clock.now()).id
    staff_user(rt, "partner1", "partner", partner_id=partner)
    with httpx.Client(base_url=live_server.url, timeout=30) as http, ThreadPoolExecutor(1) as pool:
        headers = staff_token(http, "partner1")
        with rt.engine.connect() as other:  # the other request: its row not yet committed
            other.execute(
                text(
                    "INSERT INTO partner_webhooks (partner_id, url, secret_version, created_at)"
                    " VALUES (:p, 'https://first.example/h', 1, now())"
                ),
                {"p": partner},
            )
            answer = pool.submit(
                http.put,
                f"/api/v1/partners/{partner}/webhook",
                json={"url": "https://second.example/h"},
                headers=headers,
            )
            _wait_for_a_lock_wait(rt)
            other.commit()
        r = answer.result(timeout=30)
    assert r.status_code == 409 and r.json()["code"] == "concurrent_change"
    assert r.headers["content-type"].startswith("application/problem+json")
    with rt.tx() as s:
        assert s.get(PartnerWebhook, partner).url == "https://first.example/h"


def _wait_for_a_lock_wait(rt) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with rt.engine.connect() as c:
            if c.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO partner_webhooks%'"
                )
            ):
                return
        time.sleep(0.05)
    raise AssertionError("the request never waited for the other insert")


def _add_twin(session: Session, phone: str, rt) -> None:
    """A second volunteer with a taken phone, left for the commit to write (no flush here)."""
    now = rt.clock.now()
    session.add(
        Volunteer(
            name="李四", phone=phone, consent_terms_version=TERMS_VERSION, consented_at=now, created_at=now
        )
    )


@pytest.fixture
def twin_client(rt):
    """The session dependency and the app's error answers round two handlers that leave their one
    write to the commit: no route of the app does (each flushes what it answers with), so the
    commit after the handler is exercised here, on the real database."""

    @post("/twin", sync_to_thread=True)
    def twin(session: NamedDependency[Session], phone: FromQuery[str]) -> dict:
        _add_twin(session, phone, rt)
        return {"added": True}

    @post("/twin-kept", sync_to_thread=True)
    def twin_kept(session: NamedDependency[Session], phone: FromQuery[str]) -> dict:
        _add_twin(session, phone, rt)
        raise LinliError(code="kept", detail="kept", status=409, commit=True)

    app = Litestar(
        route_handlers=[twin, twin_kept],
        dependencies={
            "rt": Provide(lambda: rt, use_cache=True, sync_to_thread=False),
            "session": Provide(provide_session),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        logging_config=None,
    )
    with TestClient(app=app) as c:
        yield c


def test_a_commit_that_fails_after_the_handler_is_409_as_before(client, twin_client, rt):
    phone = "13807310001"
    register(client, phone=phone)
    for path in ("/twin", "/twin-kept"):  # returned; raised a LinliError that keeps its writes
        r = twin_client.post(f"{path}?phone={phone}")
        assert r.status_code == 409, (path, r.text)
        assert r.json()["code"] == "concurrent_change"
        assert r.headers["content-type"].startswith("application/problem+json")
    assert volunteers_with(rt, phone) == 1
    ok = twin_client.post("/twin?phone=13807310077")  # the same handler, nothing in its way
    assert ok.status_code == 201 and volunteers_with(rt, "13807310077") == 1
