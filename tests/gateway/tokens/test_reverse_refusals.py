"""Token reversal with input it cannot use answers a clear 4xx in the error
shape, changes nothing, and a refused attempt that reached the key is logged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.attacks.test_token_linkage import PURPOSE, SELECT, register
from tests.conftest import Gateway, assert_error, leaves_unchanged, make_settings, open_gateway

APP = "guangming-eldercare"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, small_community: Community
) -> Iterator[tuple[Gateway, str, str, dict[str, str]]]:
    """A gateway, a tokenised dataset on an SQLite source, and one real token per column."""
    home: Path = tmp_path_factory.mktemp("reverse")
    url = f"sqlite:///{home / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    gw = open_gateway(make_settings(home / "home"))
    dataset = register(gw, url)
    query = gw.approved_query(APP, dataset, PURPOSE, {"select": SELECT})
    row = gw.run(APP, query).json()["rows"][0]
    tokens = {"resident_id": row[0], "mobile": row[1]}
    yield gw, url, dataset, tokens
    gw.client.close()
    gw.ctx.close()


def body(dataset: str, column: str, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "column": column,
        "recipient": APP,
        "token": token,
        "justification": "核实",
        **extra,
    }


# (column, token or a function of the real token, extra fields, reason code logged or None)
CASES: list[tuple[str, str, dict[str, Any], str | None]] = [
    (
        "mobile",
        "t99_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        {},
        "token_key_version_unknown",
    ),
    ("mobile", "t1234567_AAAA", {}, "token_unrecognised"),  # a version past any key ring
    ("mobile", "t\u00b2_AAAA", {}, "token_unrecognised"),  # a superscript digit
    ("mobile", "\u0663_AAAA", {}, "token_unrecognised"),  # an Arabic-Indic digit
    ("mobile", "x1_AAAA", {}, "token_unrecognised"),
    ("mobile", "p1_AAAA", {}, "token_unrecognised"),  # a pseudonym is not a token
    ("mobile", "t1_!!!!", {}, "token_not_reversible"),
    ("mobile", "t1_" + "A" * 64, {}, "token_not_reversible"),
    ("mobile", "{mobile}", {"recipient": "heping-committee"}, "token_not_reversible"),
    ("resident_id", "{resident_id}", {"key_version": 99}, "token_key_version_unknown"),
    ("resident_id", "110105194912310021", {}, "token_not_reversible"),  # a real-looking ID
    ("resident_id", "{resident_id}", {"key_version": 10**30}, None),  # past the field's bound
    ("resident_id", "{resident_id}", {"key_version": 0}, None),
    ("mobile", "{mobile}", {"recipient": "../other"}, None),
    ("mobile", "{mobile}", {"recipient": ""}, None),
    ("mobile", "", {}, None),
    ("mobile", "t1_" + "A" * 400, {}, None),
]


@pytest.mark.parametrize(("column", "token", "extra", "code"), CASES)
def test_unusable_reversal_is_a_logged_4xx_that_changes_nothing(
    world: tuple[Gateway, str, str, dict[str, str]],
    column: str,
    token: str,
    extra: dict[str, Any],
    code: str | None,
) -> None:
    gw, url, dataset, tokens = world
    token = token.format(**tokens)
    before = gw.get("district-auditor", "/v1/audit/entries", params={"event": "token.reversed"})
    with leaves_unchanged(gw, url):
        r = gw.post("civil-affairs", "/v1/tokens/reverse", body(dataset, column, token, **extra))
    assert_error(r, 422, echoed=(token,))
    after = gw.get("district-auditor", "/v1/audit/entries", params={"event": "token.reversed"})
    seen = {e["index"] for e in before.json()}
    added = [e for e in after.json() if e["index"] not in seen]
    if code is None:  # refused at the edge, before any key was looked at
        assert added == []
    else:
        assert [e["entry"]["decision"] for e in added] == [{"allowed": False, "reason_code": code}]
        assert added[0]["entry"]["outcome"] == "refused"
        assert token not in after.text or len(token) < 3


def test_real_tokens_still_reverse(world: tuple[Gateway, str, str, dict[str, str]]) -> None:
    gw, _, dataset, tokens = world
    for column, token in tokens.items():
        r = gw.post("civil-affairs", "/v1/tokens/reverse", body(dataset, column, token))
        assert r.status_code == 200, r.text
        assert r.json()["key_version"] == 1
