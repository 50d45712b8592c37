"""Webhooks end to end: registration over HTTP, the outbox, signed delivery to a real
local receiver that fails its first attempts, backoff, giving up, the delivery log,
restarts, and which event reaches whom.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.auth.models import Principal
from gateway.auth.service import revoke_principal
from gateway.context import GatewayContext
from gateway.webhooks.delivery import Deliverer
from gateway.webhooks.models import WebhookDelivery, WebhookMessage
from gateway.webhooks.notify import request_decided
from tests.conftest import Gateway, assert_error, make_settings, open_gateway
from tests.gateway.budget.test_budgets import PURPOSE, SUM_BY_GROUP, dp_policy, setup, visits
from tests.gateway.webhooks.receiver import Receiver, receiver

__all__ = ["visits"]  # the fixture, shared with the budget tests

FAST = {
    "webhook_hosts": "127.0.0.1:*",
    "webhook_backoff_seconds": 0.2,
    "webhook_backoff_max_seconds": 5.0,
    "webhook_max_attempts": 4,
    "webhook_timeout_seconds": 2.0,
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway whose store (and so its outbox) is SQLite or PostgreSQL."""
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    g = open_gateway(make_settings(tmp_path / "home", store, **FAST))
    yield g
    g.client.close()
    g.ctx.close()


def register(gw: Gateway, who: str, url: str) -> dict[str, Any]:
    r = gw.post(who, "/v1/webhooks", {"url": url})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def drain(
    gw: Gateway, until: float = 20.0, want: int | None = None, rx: Receiver | None = None
) -> int:
    """Deliver until nothing is pending (or ``rx`` got ``want`` requests); attempts made."""
    deliverer = Deliverer(gw.ctx.store, gw.ctx.keyring, gw.ctx.settings)
    attempted = 0
    deadline = time.monotonic() + until
    try:
        while time.monotonic() < deadline:
            attempted += deliverer.deliver_due()
            with gw.ctx.store.sessions() as s:
                pending = s.scalar(
                    sa.select(sa.func.count())
                    .select_from(WebhookMessage)
                    .where(WebhookMessage.state == "pending")
                )
            if not pending or (rx is not None and want is not None and len(rx.got) >= want):
                return attempted
            time.sleep(0.02)
    finally:
        deliverer.close()
    raise AssertionError("messages still pending")


def verified(secret: str, got: Any) -> dict[str, Any]:
    """Verify with the standardwebhooks package, independently of the gateway's code."""
    headers = {k.lower(): v for k, v in got.headers.items()}
    payload: dict[str, Any] = Webhook(secret).verify(got.body, headers)
    return payload


def test_a_filed_request_reaches_the_department_and_the_decision_the_app_signed(
    gw: Gateway, visits: str
) -> None:
    dataset = setup(gw, visits, dp_policy())
    with receiver() as dept_rx, receiver() as app_rx, receiver() as other_rx:
        dept = register(gw, "civil-affairs", dept_rx.url)
        app = register(gw, "heping-committee", app_rx.url)
        register(gw, "health-commission", other_rx.url)  # another department: hears nothing
        assert dept["secret"].startswith("whsec_")
        qid = gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
        drain(gw)
        assert [verified(dept["secret"], g)["type"] for g in dept_rx.got] == ["request.filed"]
        filed = verified(dept["secret"], dept_rx.got[0])
        assert filed["data"] == {"query_request": qid, "dataset": dataset, "status": "pending"}
        approved = verified(app["secret"], app_rx.got[0])
        assert approved["type"] == "request.approved" and approved["data"]["status"] == "approved"
        assert other_rx.got == []
        # Each message has its own id; a wrong secret does not verify.
        ids = {g.headers["webhook-id"] for g in dept_rx.got + app_rx.got}
        assert len(ids) == 2
        with pytest.raises(WebhookVerificationError):
            verified(app["secret"], dept_rx.got[0])

        r = gw.post("civil-affairs", f"/v1/query-requests/{qid}/revoke", {"reason": "done"})
        assert r.status_code == 200, r.text
        drain(gw)
        revoked = verified(app["secret"], app_rx.got[-1])
        assert revoked["type"] == "request.revoked"
        assert set(revoked["data"]) == {"query_request", "dataset", "status"}  # ids and status


def test_retries_back_off_with_jitter_then_deliver(gw: Gateway, visits: str) -> None:
    dataset = setup(gw, visits, dp_policy())
    with receiver(fail_first=3) as rx:
        hook = register(gw, "civil-affairs", rx.url)
        r = gw.post(
            "heping-committee",
            "/v1/query-requests",
            {"dataset": dataset, "purpose": PURPOSE, "justification": "t", "spec": SUM_BY_GROUP},
        )
        assert r.status_code == 201
        drain(gw)
        assert [g.answered for g in rx.got] == [500, 500, 500, 204]
        gaps = [b.at - a.at for a, b in zip(rx.got, rx.got[1:], strict=False)]
        # Waits after attempts 1, 2, 3 lie in [0.1, 0.2], [0.2, 0.4], [0.4, 0.8] seconds.
        assert 0.1 <= gaps[0] < gaps[1] < gaps[2], gaps
        assert gaps[2] >= 0.4
        # Every attempt carries the same message id, signed anew.
        assert len({g.headers["webhook-id"] for g in rx.got}) == 1
        assert all(verified(hook["secret"], g)["type"] == "request.filed" for g in rx.got)
        log = gw.get("civil-affairs", f"/v1/webhooks/{hook['id']}/deliveries").json()
        assert [(d["attempt"], d["outcome"], d["status_code"]) for d in reversed(log)] == [
            (1, "retry", 500),
            (2, "retry", 500),
            (3, "retry", 500),
            (4, "delivered", 204),
        ]
        assert all(set(d) >= {"duration_ms", "error"} and "body" not in d for d in log)


def test_giving_up_is_recorded_and_connection_errors_are_named(gw: Gateway, visits: str) -> None:
    dataset = setup(gw, visits, dp_policy())
    with receiver(fail_first=100, fail_status=503) as rx:
        failing = register(gw, "civil-affairs", rx.url)
        closed = register(gw, "civil-affairs", "http://127.0.0.1:9/nothing-listens-here")
        gw.post(
            "heping-committee",
            "/v1/query-requests",
            {"dataset": dataset, "purpose": PURPOSE, "justification": "t", "spec": SUM_BY_GROUP},
        )
        drain(gw)
        assert len(rx.got) == 4  # CDG_WEBHOOK_MAX_ATTEMPTS, then no more
        drain(gw)
        assert len(rx.got) == 4
    log = gw.get("civil-affairs", f"/v1/webhooks/{failing['id']}/deliveries").json()
    assert [d["outcome"] for d in log] == ["failed", "retry", "retry", "retry"]
    assert {d["status_code"] for d in log} == {503}
    refused = gw.get("civil-affairs", f"/v1/webhooks/{closed['id']}/deliveries").json()
    assert refused[0]["outcome"] == "failed" and refused[0]["status_code"] is None
    assert {d["error"] for d in refused} == {"ConnectError"}
    # Another principal cannot read the log, nor learn that the endpoint exists.
    assert_error(gw.get("health-commission", f"/v1/webhooks/{failing['id']}/deliveries"), 404)


def test_the_outbox_survives_a_restart(tmp_path: Path, visits: str) -> None:
    settings = make_settings(tmp_path / "home", **FAST)
    first = open_gateway(settings)
    dataset = setup(first, visits, dp_policy())
    with receiver() as rx:
        hook = register(first, "civil-affairs", rx.url)
        first.post(
            "heping-committee",
            "/v1/query-requests",
            {"dataset": dataset, "purpose": PURPOSE, "justification": "t", "spec": SUM_BY_GROUP},
        )
        first.client.close()
        first.ctx.close()  # the process ends before anything was sent
        assert rx.got == []
        ctx = GatewayContext.open(settings)  # a new process on the same store
        try:
            drain(Gateway(ctx=ctx, client=first.client))
        finally:
            ctx.close()
        assert len(rx.got) == 1
        assert verified(hook["secret"], rx.got[0])["type"] == "request.filed"


def test_a_rolled_back_change_sends_nothing(gw: Gateway, visits: str) -> None:
    dataset = setup(gw, visits, dp_policy())
    qid = gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    with receiver() as rx:
        register(gw, "heping-committee", rx.url)
        with pytest.raises(RuntimeError), gw.ctx.store.transaction() as session:
            request_decided(
                session,
                query_request=qid,
                dataset=dataset,
                app_id=_id(gw, "heping-committee"),
                status="revoked",
            )
            raise RuntimeError("the change failed after the notification was queued")
        # A refused approval (not pending) rolls back too: nothing is queued.
        assert gw.post("civil-affairs", f"/v1/query-requests/{qid}/approve", {}).status_code == 409
        drain(gw)
        assert rx.got == []


def _id(gw: Gateway, name: str) -> str:
    with gw.ctx.store.sessions() as session:
        return str(session.scalar(sa.select(Principal.id).where(Principal.name == name)))


def test_budget_nearly_spent_reaches_app_and_department_once(gw: Gateway, visits: str) -> None:
    dataset = setup(gw, visits, dp_policy(epsilon_per_run=1.0, epsilon_per_window=2.5))
    qid = gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    with receiver() as app_rx, receiver() as dept_rx:
        app = register(gw, "heping-committee", app_rx.url)
        dept = register(gw, "civil-affairs", dept_rx.url)
        assert gw.run("heping-committee", qid, {"max_age": 200}).status_code == 200  # 40%
        drain(gw)
        assert app_rx.got == [] and dept_rx.got == []
        assert gw.run("heping-committee", qid, {"max_age": 201}).status_code == 200  # 80%
        assert gw.run("heping-committee", qid, {"max_age": 202}).status_code == 403  # refused
        drain(gw)
        for rx, hook in ((app_rx, app), (dept_rx, dept)):
            assert len(rx.got) == 1
            msg = verified(hook["secret"], rx.got[0])
            assert msg["type"] == "budget.nearly_spent"
            assert msg["data"] == {
                "dataset": dataset,
                "app": _id(gw, "heping-committee"),
                "cap": "window",
                "threshold": 0.8,
                "status": "nearly_spent",
            }


def test_registration_checks_urls_and_shows_the_secret_once(gw: Gateway) -> None:
    hook = register(gw, "district-auditor", "http://127.0.0.1:8080/audit")
    listed = gw.get("district-auditor", "/v1/webhooks").json()
    assert listed == [{k: hook[k] for k in ("id", "url", "created_at")}]
    assert "secret" not in json.dumps(listed)
    assert gw.get("heping-committee", "/v1/webhooks").json() == []  # only one's own
    for url in (
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "http://10.0.0.5:8080/admin",  # not in the allow-list: no probing the intranet
        "http://localhost/x",  # a name is compared as written
        "http://user:pw@127.0.0.1/x",
        "http://127.0.0.1:99999/x",
        "javascript:alert(1)",
        "http://127.0.0.1/\nx",
    ):
        with_url = gw.post("district-auditor", "/v1/webhooks", {"url": url})
        body = assert_error(with_url, 422)
        assert "10.0.0.5" not in body["detail"] and "passwd" not in body["detail"]
    assert_error(gw.post("district-auditor", "/v1/webhooks", {"url": "x", "events": []}), 422)
    # Deleting: only one's own; afterwards it is gone and receives nothing.
    assert_error(
        gw.client.delete(f"/v1/webhooks/{hook['id']}", headers=gw.auth("civil-affairs")), 404
    )
    r = gw.client.delete(f"/v1/webhooks/{hook['id']}", headers=gw.auth("district-auditor"))
    assert r.status_code == 204
    assert gw.get("district-auditor", "/v1/webhooks").json() == []
    assert_error(
        gw.client.delete(f"/v1/webhooks/{hook['id']}", headers=gw.auth("district-auditor")), 404
    )
    events = [
        e["entry"]
        for e in gw.get("district-auditor", "/v1/audit/entries").json()
        if e["entry"]["event"].startswith("webhook.")
    ]
    assert [e["event"] for e in events] == ["webhook.registered", "webhook.deleted"]
    assert events[0]["webhook_host"] == "127.0.0.1"
    assert hook["secret"] not in json.dumps(events)


def test_webhooks_are_refused_until_the_operator_lists_hosts(tmp_path: Path) -> None:
    g = open_gateway(make_settings(tmp_path / "home"))
    try:
        r = g.post("heping-committee", "/v1/webhooks", {"url": "https://example.org/hook"})
        assert "CDG_WEBHOOK_HOSTS" in assert_error(r, 422)["detail"]
    finally:
        g.client.close()
        g.ctx.close()


def test_the_serving_worker_delivers_without_being_asked(tmp_path: Path, visits: str) -> None:
    from fastapi.testclient import TestClient

    from gateway.api.app import create_app

    g = open_gateway(make_settings(tmp_path / "home", webhook_poll_seconds=0.05, **FAST))
    dataset = setup(g, visits, dp_policy())
    try:
        with receiver() as rx, TestClient(create_app(ctx=g.ctx)) as served:
            r = served.post("/v1/webhooks", json={"url": rx.url}, headers=g.auth("civil-affairs"))
            assert r.status_code == 201
            served.post(
                "/v1/query-requests",
                json={
                    "dataset": dataset,
                    "purpose": PURPOSE,
                    "justification": "t",
                    "spec": SUM_BY_GROUP,
                },
                headers=g.auth("heping-committee"),
            )
            deadline = time.monotonic() + 10
            while not rx.got and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [json.loads(x.body)["type"] for x in rx.got] == ["request.filed"]
    finally:
        g.client.close()
        g.ctx.close()


def test_the_python_example_in_the_docs_verifies_a_real_delivery(gw: Gateway, visits: str) -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text("utf-8")
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)
    verify = namespace["verify"]
    dataset = setup(gw, visits, dp_policy())
    with receiver() as rx:
        hook = register(gw, "civil-affairs", rx.url)
        gw.post(
            "heping-committee",
            "/v1/query-requests",
            {"dataset": dataset, "purpose": PURPOSE, "justification": "t", "spec": SUM_BY_GROUP},
        )
        drain(gw)
    got = rx.got[0]
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert verify(hook["secret"], headers, got.body)["type"] == "request.filed"
    with pytest.raises(ValueError, match="bad signature"):
        verify(hook["secret"], headers, got.body + b" ")
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)}
    with pytest.raises(ValueError, match="stale"):
        verify(hook["secret"], stale, got.body)


def test_retiring_a_dataset_tells_the_apps_whose_queries_it_revoked(
    gw: Gateway, visits: str
) -> None:
    # Lifecycle revocations go through the same function as a department's revoke.
    dataset = setup(gw, visits, dp_policy())
    approved = gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    with receiver() as rx:
        hook = register(gw, "heping-committee", rx.url)
        r = gw.post("civil-affairs", f"/v1/datasets/{dataset}/retire", {"reason": "closed"})
        assert r.status_code == 200, r.text
        drain(gw)
    messages = [verified(hook["secret"], g) for g in rx.got]
    assert [(m["type"], m["data"]["query_request"]) for m in messages] == [
        ("request.revoked", approved)
    ]
    assert "closed" not in rx.got[0].body.decode()  # the department's words stay in the API


def test_a_revoked_principal_receives_nothing_already_queued(gw: Gateway, visits: str) -> None:
    dataset = setup(gw, visits, dp_policy())
    with receiver() as rx:
        hook = register(gw, "heping-committee", rx.url)
        gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)  # queued
        with gw.ctx.store.transaction() as session:
            revoke_principal(session, "heping-committee")
        drain(gw)
    assert rx.got == []
    with gw.ctx.store.sessions() as session:
        errors = session.scalars(
            sa.select(WebhookDelivery.error).where(WebhookDelivery.endpoint_id == hook["id"])
        ).all()
    assert errors == ["PrincipalRevoked"]


def test_two_deliverers_on_one_outbox_send_each_message_once(gw: Gateway) -> None:
    # Mechanism: a message is taken with a conditional UPDATE before it is sent, so two
    # workers (threads here, processes or machines in production) never both send it.
    import threading

    with receiver() as rx:
        register(gw, "heping-committee", rx.url)
        app_id = _id(gw, "heping-committee")
        with gw.ctx.store.writing() as session:
            for i in range(30):
                request_decided(
                    session, query_request=f"qr_{i}", dataset="ds_x", app_id=app_id,
                    status="approved",
                )  # fmt: skip
        workers = [Deliverer(gw.ctx.store, gw.ctx.keyring, gw.ctx.settings) for _ in range(2)]
        counts: list[int] = []
        threads = [
            threading.Thread(target=lambda d=d: counts.append(d.deliver_due(100))) for d in workers
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for d in workers:
            d.close()
    ids = [g.headers["webhook-id"] for g in rx.got]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert sum(counts) == 30


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/\x00",
        "http://127.0.0.1:0/x",
        "http://127.0.0.1:abc/x",
        "http://[::1/x",
        "http://xn--fiqs8s.example/x",  # an IDN host not in the list
        "http://数据.example/x",
        "https://127.0.0.1.evil.example/x",
        "//127.0.0.1/x",
        "",
        "h" * 3000,
        "http://127.0.0.1@10.0.0.5/x",
    ],
)
def test_odd_urls_are_a_clear_422_that_stores_nothing(gw: Gateway, url: str) -> None:
    r = gw.post("heping-committee", "/v1/webhooks", {"url": url})
    body = assert_error(r, 422)
    assert "10.0.0.5" not in body["detail"] and "evil" not in body["detail"]
    assert gw.get("heping-committee", "/v1/webhooks").json() == []


def test_odd_webhook_ids_are_not_found(gw: Gateway) -> None:
    for webhook_id in ("x" * 5000, "wh_' OR 1=1 --", "%F0%9F%98%80"):
        assert_error(
            gw.client.delete(f"/v1/webhooks/{webhook_id}", headers=gw.auth("civil-affairs")), 404
        )
        assert_error(gw.get("civil-affairs", f"/v1/webhooks/{webhook_id}/deliveries"), 404)


def test_a_rejected_request_tells_its_app(gw: Gateway, visits: str) -> None:
    dataset = setup(gw, visits, dp_policy())
    with receiver() as rx:
        hook = register(gw, "heping-committee", rx.url)
        r = gw.post(
            "heping-committee",
            "/v1/query-requests",
            {"dataset": dataset, "purpose": PURPOSE, "justification": "t", "spec": SUM_BY_GROUP},
        )
        qid = r.json()["id"]
        rejected = gw.post("civil-affairs", f"/v1/query-requests/{qid}/reject", {"reason": "no"})
        assert rejected.status_code == 200, rejected.text
        drain(gw)
    assert [verified(hook["secret"], g)["data"] for g in rx.got] == [
        {"query_request": qid, "dataset": dataset, "status": "rejected"}
    ]


@pytest.mark.parametrize(
    ("listed", "url", "ok"),
    [
        ("hooks.example", "https://hooks.example/in", True),
        ("hooks.example", "http://hooks.example:80/in", True),
        ("hooks.example", "http://hooks.example:22/", False),  # a listed host is not port-scanned
        ("hooks.example", "http://hooks.example:5432/", False),
        ("hooks.example:8443", "https://hooks.example:8443/in", True),
        ("hooks.example:8443", "https://hooks.example/in", False),
        ("hooks.example:*", "http://hooks.example:9/", True),
        ("[::1]:9000", "http://[::1]:9000/", True),
        ("[::1]:9000", "http://[::1]:9001/", False),
        ("::1", "http://[::1]/", True),
    ],
)
def test_listed_hosts_allow_only_their_ports(
    tmp_path: Path, listed: str, url: str, ok: bool
) -> None:
    g = open_gateway(make_settings(tmp_path / "home", webhook_hosts=listed))
    try:
        r = g.post("jianshe-property", "/v1/webhooks", {"url": url})
        if ok:
            assert r.status_code == 201, r.text
        else:
            assert "CDG_WEBHOOK_HOSTS" in assert_error(r, 422)["detail"]
    finally:
        g.client.close()
        g.ctx.close()


def test_the_endpoint_limit_holds_under_concurrent_registrations(gw: Gateway) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> int:
        r = gw.post("jianshe-property", "/v1/webhooks", {"url": f"http://127.0.0.1:9/{i}"})
        return int(r.status_code)

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(one, range(30)))
    assert set(codes) <= {201, 409}, codes
    assert codes.count(201) <= 10
    listed = gw.get("jianshe-property", "/v1/webhooks").json()
    assert len(listed) == codes.count(201) <= 10
