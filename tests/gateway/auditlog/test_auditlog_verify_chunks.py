"""Verification reads PostgreSQL in chunks fetched ahead by a thread; the findings do not
depend on where the chunks end.

A log of 150 entries is verified in one range, with chunks of 7 entries (the production
size is 8,192): every tamper case of the parallel test, several on a chunk's first or last
entry, must give the report the one-statement chunk gives. A gap in the first chunk stops
the reading thread early, and the session stays usable. The MAC checker that verification
uses agrees with the plain HMAC check.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.auditlog import verify_repository
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.service import record, verify_store
from gateway.context import GatewayContext
from gateway.keys import load_keyring
from tests.conftest import make_settings
from tests.gateway.auditlog.test_auditlog_parallel_verify import (
    APP,
    CASES,
    ENTRIES,
    backdate,
    delete_entry,
    forged_mac,
    summary,
)

# Chunks of 7: entries 0-6, 7-13, ... so 49 and 56 start a chunk and 55 and 62 end one.
EDGE_CASES: list[tuple[str, Callable[[GatewayContext], None], str, int]] = [
    ("delete a chunk's first entry", delete_entry(49), "missing_entry", 49),
    ("delete a chunk's last entry", delete_entry(55), "missing_entry", 55),
    ("forge the MAC of a chunk's first entry", forged_mac(56), "forged_entry_mac", 56),
    ("backdate a chunk's last entry", backdate(62), "changed_entry", 62),
    ("delete the first entry", delete_entry(0), "missing_entry", 0),
]


@pytest.fixture
def log(pg_url: str, tmp_path: Path) -> Iterator[GatewayContext]:
    """The parallel test's log, on PostgreSQL (the store read in chunks)."""
    settings = make_settings(tmp_path / "home", pg_url, checkpoint_every_entries=5)
    ctx = GatewayContext.open(settings)
    for i in range(ENTRIES):
        subjects = [f"s_{i:04d}a", f"s_{i:04d}b"] if i % 3 == 0 else None
        record(
            ctx,
            "query.run",
            APP,
            subjects=subjects,
            dataset=f"ds_{i % 4}",
            purpose="public-service.elderly-care.home-visit",
            decision={"allowed": True, "reason_code": "granted"},
            outcome="ok",
            row_count=i,
        )
    yield ctx
    ctx.close()


def chunked(ctx: GatewayContext, monkeypatch: pytest.MonkeyPatch, size: int) -> tuple[object, ...]:
    with monkeypatch.context() as patch:
        patch.setattr(verify_repository, "ENTRY_CHUNK", size)
        with ctx.store.transaction() as session:
            report = verify_store(session, ctx, workers=1)
            # The session goes on after the reading thread stopped.
            report_again = verify_store(session, ctx, workers=1)
    assert summary(report) == summary(report_again)
    return summary(report)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("label", "case", "kind", "index"),
    CASES + EDGE_CASES,
    ids=[c[0] for c in CASES + EDGE_CASES],
)
def test_chunks_find_what_one_statement_finds(
    log: GatewayContext,
    monkeypatch: pytest.MonkeyPatch,
    label: str,
    case: Callable[[GatewayContext], None],
    kind: str,
    index: int,
) -> None:
    case(log)
    found = chunked(log, monkeypatch, 7)
    assert found[2] == (kind, index), label
    assert found == chunked(log, monkeypatch, 10_000), label


@pytest.mark.postgres
def test_an_intact_log_in_chunks(log: GatewayContext, monkeypatch: pytest.MonkeyPatch) -> None:
    found = chunked(log, monkeypatch, 7)
    assert found[0] == ENTRIES and found[2] is None
    assert found == chunked(log, monkeypatch, 1)


def test_the_mac_checker_is_hmac_sha256(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    macs = EntryMacs(load_keyring(settings))
    check = macs.checker()
    for index in (0, 1, 255, 256, 65_535, 2**40 + 3):
        leaf = os.urandom(32)
        good = macs.make(index, leaf)
        assert check(index, leaf, good) and macs.valid(index, leaf, good)
        version, _, value = good.partition(":")
        key = macs._keys[int(version)]
        want = hmac.digest(key, index.to_bytes(8, "big") + leaf, "sha256").hex()
        assert value == want
        flipped = value[:-1] + ("0" if value[-1] != "0" else "1")
        for bad in (f"{version}:{flipped}", f"{version}:", "", f"{version}:{value.upper()}"):
            assert check(index, leaf, bad) is macs.valid(index, leaf, bad) is False
        assert not check(index + 1, leaf, good)
        assert not check(index, os.urandom(32), good)
