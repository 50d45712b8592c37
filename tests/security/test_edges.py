"""No 5xx from any input, and every failure is logged: the edges, tried over HTTP.

Each test names the mechanism that stops the attempt. The values are the ones that
used to answer 500 (or cut a 200 stream): naive, out-of-range and extreme-offset
times, 30-digit integers, approval expiries at the end of the datetime range, an ε
the noise mechanism cannot take, oversized bodies, wrong methods; and what an
unexpected error leaves behind (the response, the log), and the modes of a fresh home.
"""

from __future__ import annotations

import copy
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.errors import Forbidden
from gateway.queries.dp import Measure, calibrated
from tests.conftest import (
    Gateway,
    assert_error,
    audit_snapshot,
    make_settings,
    open_gateway,
    store_snapshot,
)
from tests.gateway.budget.dp_setup import DATASET, POLICY, rows, write

THIRTY_DIGITS = "9" * 30
# Each of these answered 500 on the audit listing and cut the export after its 200.
BAD_TIMES = {
    "naive": "2024-01-01T00:00:00",
    "year one": "0001-01-01T00:00:00Z",
    "year 9999": "9999-12-31T23:59:59Z",
    "offset past the end": "9999-12-31T23:59:59-23:59",
    "offset before the start": "0001-01-01T00:00:00+23:59",
    "not a time": "yesterday",
}
STORES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
def gw(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway with the test principals, on an SQLite or a PostgreSQL store."""
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    gateway = open_gateway(make_settings(tmp_path / "home", store))
    yield gateway
    gateway.client.close()
    gateway.ctx.close()


@pytest.mark.parametrize("path", ["/v1/audit/entries", "/v1/audit/export"])
@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("case", sorted(BAD_TIMES))
def test_times_in_audit_queries_need_a_zone_and_a_range(
    gw: Gateway, path: str, field: str, case: str
) -> None:
    # Stopped by gateway.bounds.Instant on the query parameter: a time zone is required and
    # the instant, taken to UTC (an overflow there is a validation error), lies in
    # 1970..3000, so the store never compares with a value it cannot hold and the export is
    # refused before its 200 and its checkpoint.
    before = audit_snapshot(gw)
    response = gw.get("district-auditor", path, params={field: BAD_TIMES[case]})
    body = assert_error(response, 422, echoed=(BAD_TIMES[case],))
    assert field in body["detail"]
    assert audit_snapshot(gw) == before


def test_times_in_range_with_any_offset_are_answered(gw: Gateway) -> None:
    # The same mechanism normalises every accepted time to UTC: the extreme legal offsets
    # near the ends of the range are answered, and the export stream completes.
    params = {"since": "1970-01-01T14:00:00+14:00", "until": "2999-12-31T09:59:59-14:00"}
    listed = gw.get("district-auditor", "/v1/audit/entries", params=params)
    assert listed.status_code == 200, listed.text
    exported = gw.get("district-auditor", "/v1/audit/export", params=params)
    assert exported.status_code == 200, exported.text


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/audit/entries", {"after": THIRTY_DIGITS}),
        ("/v1/audit/entries", {"after": "-" + THIRTY_DIGITS}),
        ("/v1/audit/entries", {"limit": THIRTY_DIGITS}),
        ("/v1/audit/proofs/inclusion", {"index": THIRTY_DIGITS, "tree_size": "1"}),
        ("/v1/audit/proofs/inclusion", {"index": "0", "tree_size": THIRTY_DIGITS}),
        ("/v1/audit/proofs/consistency", {"old_size": "1", "new_size": THIRTY_DIGITS}),
        ("/v1/query-requests", {"limit": THIRTY_DIGITS}),
    ],
)
def test_integers_beyond_64_bits_are_refused(
    gw: Gateway, path: str, params: dict[str, str]
) -> None:
    # Stopped by the bounds on every integer query parameter (le=2**63-1, or the field's
    # own smaller limit): a value no store column can hold never reaches a statement.
    assert_error(gw.get("district-auditor", path, params=params), 422, echoed=(THIRTY_DIGITS,))


# -- approvals -------------------------------------------------------------------------------

PURPOSE = "public-service.statistics"
COUNT_BY_GROUP: dict[str, Any] = {
    "aggregates": [{"fn": "count", "as": "n"}, {"fn": "sum", "column": "value", "as": "total"}],
    "group_by": ["grp"],
}


@pytest.fixture
def visits(gw: Gateway, tmp_path: Path) -> str:
    """The DP test dataset on an SQLite source, registered by civil-affairs; its id."""
    url = f"sqlite:///{tmp_path / 'visits.db'}"
    write(url, rows(people=120))
    r = gw.post("civil-affairs", "/v1/sources", {"name": "visits-db", "url": url})
    assert r.status_code == 201, r.text
    r = gw.post("civil-affairs", "/v1/datasets", DATASET)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _pending(gw: Gateway, dataset: str, spec: dict[str, Any] = COUNT_BY_GROUP) -> str:
    body = {"dataset": dataset, "purpose": PURPOSE, "justification": "edges", "spec": spec}
    r = gw.post("heping-committee", "/v1/query-requests", body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "pending"
    return str(r.json()["id"])


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "9999-12-31T23:59:59.999999+00:00",
        "0001-01-01T00:00:00+23:59",
        "2099-01-01T00:00:00",
        "2020-01-01T00:00:00Z",
    ],
)
def test_approval_expiry_at_the_edges_is_refused(
    gw: Gateway, visits: str, expires_at: str
) -> None:
    # Stopped by gateway.bounds.Instant on Approval.expires_at (zone required, 1970..3000
    # UTC, overflow of the offset caught) and, for a past time, by the approval itself; the
    # request stays pending and nothing is written.
    qid = _pending(gw, visits)
    before = store_snapshot(gw)
    r = gw.post("civil-affairs", f"/v1/query-requests/{qid}/approve", {"expires_at": expires_at})
    assert_error(r, 422)
    assert store_snapshot(gw) == before


def test_approval_expiry_late_in_the_range_runs(gw: Gateway, visits: str) -> None:
    # The accepted end of the range, given with the largest offset, is stored as UTC and the
    # approved query runs (its expiry is compared without overflow).
    qid = _pending(gw, visits)
    r = gw.post(
        "civil-affairs",
        f"/v1/query-requests/{qid}/approve",
        {"expires_at": "2999-12-31T12:00:00+14:00"},
    )
    assert r.status_code == 200, r.text
    assert gw.run("heping-committee", qid).status_code == 200


# -- ε -----------------------------------------------------------------------------------


def _policy(**dp: Any) -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["purposes"][0]["dp"].update(dp)
    return policy


@pytest.mark.parametrize(
    "dp",
    [
        {"epsilon_per_run": 1e-12, "epsilon_per_window": 1.0},
        {"epsilon_per_run": 0.0005, "epsilon_per_window": 1.0},
        {"epsilon_per_run": 11.0, "epsilon_per_window": 100.0},
        {"epsilon_per_run": 1.0, "epsilon_per_window": 1000.0},
        {"bounds": {"value": {"lower": -1e300, "upper": 1e300}}},
    ],
)
def test_policies_with_an_epsilon_or_bounds_no_mechanism_can_take_are_refused(
    gw: Gateway, visits: str, dp: dict[str, Any]
) -> None:
    # Stopped by the policy document's schema: ε per run and per window lie in
    # [EPSILON_FLOOR, ceiling] and DP clamping bounds are finite and at most 1e12 in
    # magnitude, so every filed policy yields a noise scale the mechanism accepts.
    before = store_snapshot(gw)
    r = gw.put("civil-affairs", f"/v1/datasets/{visits}/policy", {"policy": _policy(**dp)})
    assert_error(r, 422)
    assert store_snapshot(gw) == before


def test_a_tiny_epsilon_is_refused_before_the_source_is_read(
    gw: Gateway, visits: str, tmp_path: Path
) -> None:
    # Stopped at filing by QuerySpec.epsilon (the same floor as policies): the request is
    # never stored, so no run can read the source with it.
    before = store_snapshot(gw)
    body = {
        "dataset": visits,
        "purpose": PURPOSE,
        "justification": "edges",
        "spec": {**COUNT_BY_GROUP, "epsilon": 1e-9},
    }
    assert_error(gw.post("heping-committee", "/v1/query-requests", body), 422)
    assert store_snapshot(gw) == before
    # At the floor a run is calibrated (before the source is read, by measures_for) and
    # runs: answered, or refused because the noise drowns the scope (decided after the
    # source was read). Either way it is charged a non-zero ε and logged, never a 5xx.
    qid = _pending(gw, visits, {**COUNT_BY_GROUP, "epsilon": 0.001})
    assert gw.post("civil-affairs", f"/v1/query-requests/{qid}/approve", {}).status_code == 200
    run = gw.run("heping-committee", qid)
    assert run.status_code in (200, 403), run.text
    entries = gw.get("district-auditor", "/v1/audit/entries", params={"event": "query.run"}).json()
    assert [e["entry"]["outcome"] for e in entries] in (["ok"], ["refused"])
    assert float(entries[0]["entry"]["privacy_cost"]) == pytest.approx(0.001)


def test_the_calibration_check_refuses_what_the_mechanism_cannot_take() -> None:
    # Defence in depth behind the floors above: planning asks OpenDP to build each measure's
    # mechanism and confirm its privacy map before the source is read; an infinite or
    # unrepresentable scale is a 403 refusal (logged as a denial), never a failure mid-run.
    for measure, epsilon in [
        (Measure("sum:value", 1e308, False), 1e-300),
        (Measure("count", 1, True), 0.0),
        (Measure("count", 1, True), 5e-324),
    ]:
        with pytest.raises(Forbidden) as refused:
            calibrated(measure, epsilon)
        assert refused.value.reason == "epsilon_not_calibratable"
    calibrated(Measure("count", 2, True), 0.001 / 51)  # the smallest ε a valid plan can have


# -- bodies, methods, unexpected errors ----------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(gw: Gateway) -> None:
    # Stopped by BodyLimitMiddleware (CDG_MAX_BODY_BYTES, 1 MiB): a declared Content-Length
    # over the limit is answered 413 at once; a chunked body is counted as it arrives and
    # refused when it passes the limit, before JSON parsing or validation.
    two_mib = b'{"params": {"x": "' + b"a" * (2 * 1024 * 1024) + b'"}}'
    headers = {**gw.auth("heping-committee"), "content-type": "application/json"}
    declared = gw.client.post("/v1/queries/qr_x/run", content=two_mib, headers=headers)
    assert_error(declared, 413)["error"] == "PayloadTooLarge"

    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for start in range(0, len(two_mib), 64 * 1024):
            sent += 1
            yield two_mib[start : start + 64 * 1024]

    chunked = gw.client.post("/v1/queries/qr_x/run", content=chunks(), headers=headers)
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert_error(chunked, 413)
    # A lying Content-Length is no way around it either.
    lying = gw.client.post(
        "/v1/queries/qr_x/run", content=two_mib, headers={**headers, "content-length": "10x"}
    )
    assert lying.status_code in (400, 413)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/audit/entries", {"GET"}),
        ("PUT", "/v1/query-requests", {"GET", "POST"}),
        ("GET", "/v1/queries/qr_x/run", {"POST"}),
    ],
)
def test_a_wrong_method_is_405_with_allow(
    gw: Gateway, method: str, path: str, allowed: set[str]
) -> None:
    # The router's 405 keeps its Allow header through the error handler (RFC 9110 §15.5.6),
    # in the one error shape.
    r = gw.client.request(method, path, headers=gw.auth("district-auditor"))
    body = assert_error(r, 405)
    assert body["error"] == "MethodNotAllowed"
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


def test_an_unexpected_error_is_a_bare_500_logged_once(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    # UnexpectedErrorMiddleware: the answer is the error shape without any trace; the log
    # has one record with the request id and the frames, but not the exception's message
    # (which can quote SQL or values).
    secret = "SELECT secret FROM residents WHERE id_number = '110101199003070000'"

    def boom() -> None:
        raise RuntimeError(secret)

    gw.client.app.add_api_route("/v1/test-only/boom", boom)  # type: ignore[attr-defined]
    with caplog.at_level(logging.DEBUG):
        r = gw.client.get("/v1/test-only/boom")
    body = assert_error(r, 500)
    assert body["error"] == "InternalError" and "Traceback" not in r.text and secret not in r.text
    # One error record (the per-request access line carries the id too, but no error).
    mentioning = [
        rec
        for rec in caplog.records
        if body["request_id"] in rec.getMessage() and rec.levelno >= logging.WARNING
    ]
    assert len(mentioning) == 1
    text = mentioning[0].getMessage() + str(mentioning[0].exc_info or "")
    assert "RuntimeError" in text and "boom" in text and secret not in text
    assert not any(secret in rec.getMessage() for rec in caplog.records)


# -- files -----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_home_is_private(tmp_path: Path) -> None:
    # gateway.home: `cdg init` creates home and keys/ 0700 and the config, key files and
    # SQLite store 0600 with os.open modes, whatever the umask (022 here, as on most hosts).
    home = tmp_path / "home"
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli, ["init"], env={"CDG_HOME": str(home)})
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert _mode(home) == 0o700
    assert _mode(home / "keys") == 0o700
    files = [home / "config", home / "gateway.db", *(home / "keys").iterdir()]
    assert len(files) >= 4
    for path in files:
        assert _mode(path) == 0o600, path
    # A home that exists with loose modes is narrowed the next time it is prepared.
    os.chmod(home, 0o755)
    assert CliRunner().invoke(cli, ["init"], env={"CDG_HOME": str(home)}).exit_code == 0
    assert _mode(home) == 0o700


def test_a_malformed_body_is_refused_before_anything_is_looked_up(
    gw: Gateway, visits: str
) -> None:
    # Body validation (the endpoint's schema) answers before the permission check, so a
    # malformed policy is 422 for another department's dataset and for no dataset alike:
    # nothing about existence leaks. docs/permissions.md's preamble says so.
    owner, other = "civil-affairs", "health-commission"
    for dataset in (visits, "ds_00000000000000000000"):
        r = gw.put(other, f"/v1/datasets/{dataset}/policy", {"purposes": "not a list"})
        assert_error(r, 422)
    valid = gw.get(owner, f"/v1/datasets/{visits}").json()["policy"]
    assert_error(gw.put(other, f"/v1/datasets/{visits}/policy", {"policy": valid}), 404)
    page = (Path(__file__).resolve().parents[2] / "docs" / "permissions.md").read_text()
    assert "A malformed body" in page and "refused with\n`422` before anything" in page
