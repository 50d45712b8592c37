"""A token reverses only under the dataset and column that produced it, over HTTP.

Mechanism: every token key is derived with HKDF from (owner, recipient app, dataset
id, column, key version), so an AES-SIV token named under another dataset or column
fails authentication (422 ``token_not_reversible``) and the ``token.reversed`` entry
can never name a dataset or column the value did not come from. The named dataset
must release the column tokenised to the named app, and a given key version must be
in the key ring (``token_key_version_unknown``).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.demo.catalog import DATASETS
from tests.attacks.test_token_linkage import PURPOSE, RULE
from tests.conftest import Gateway, assert_error

APP = "heping-committee"
SIV = {"treatment": "tokenise", "params": {"mode": "siv"}}


def _register_two(gw: Gateway, source_url: str) -> tuple[str, str]:
    """Two datasets on one table, both tokenising ``mobile`` and ``name`` with AES-SIV."""
    r = gw.post("civil-affairs", "/v1/sources", {"name": "src", "url": source_url})
    assert r.status_code == 201, r.text
    ids = []
    for name in ("tok-a", "tok-b"):
        spec = copy.deepcopy(next(d for d in DATASETS if d["name"] == "residents"))
        rule = copy.deepcopy(RULE)
        rule["columns"]["name"] = SIV
        spec["policy"]["purposes"] = [rule]
        spec.update(name=name, source="src")
        r = gw.post("civil-affairs", "/v1/datasets", spec)
        assert r.status_code == 201, r.text
        ids.append(str(r.json()["id"]))
    return ids[0], ids[1]


def _reverse(gw: Gateway, dataset: str, column: str, token: str, **extra: Any) -> Any:
    body = {"dataset": dataset, "column": column, "recipient": APP, "token": token,
            "justification": "核实", **extra}
    return gw.post("civil-affairs", "/v1/tokens/reverse", body)


def _reversals(gw: Gateway) -> list[dict[str, Any]]:
    r = gw.get("district-auditor", "/v1/audit/entries", params={"event": "token.reversed"})
    return [e["entry"] for e in r.json()]


def test_a_token_reverses_only_under_its_own_dataset_and_column(
    gateway: Gateway, source_url: str
) -> None:
    first, second = _register_two(gateway, source_url)
    query = gateway.approved_query(APP, first, PURPOSE, {"select": ["mobile", "name", "age"]})
    run = gateway.run(APP, query)
    assert run.status_code == 200, run.text
    mobile, name = run.json()["rows"][0][:2]
    # The right dataset and column: the value comes back.
    assert _reverse(gateway, first, "mobile", mobile).status_code == 200
    assert _reverse(gateway, first, "name", name).status_code == 200
    logged = len(_reversals(gateway))
    # Another dataset with the same policy, or another tokenised column of the same
    # dataset: the key differs, so the SIV token fails authentication.
    for dataset, column, token in [
        (second, "mobile", mobile),
        (first, "name", mobile),
        (first, "mobile", name),
    ]:
        r = _reverse(gateway, dataset, column, token)
        assert_error(r, 422, echoed=(token,))
        assert r.json()["detail"].endswith("the token cannot be reversed with this dataset "
                                           "column's key for this app")
    entries = _reversals(gateway)[logged:]
    assert [e["outcome"] for e in entries] == ["refused"] * 3
    assert {e["decision"]["reason_code"] for e in entries} == {"token_not_reversible"}


def test_a_key_version_outside_the_key_ring_is_refused(gateway: Gateway, source_url: str) -> None:
    first, _ = _register_two(gateway, source_url)
    query = gateway.approved_query(APP, first, PURPOSE, {"select": ["mobile", "age"]})
    mobile = gateway.run(APP, query).json()["rows"][0][0]
    # The given version is checked against the key ring, not ignored for the token's label.
    for version in (2, 1_000_000):
        r = _reverse(gateway, first, "mobile", mobile, key_version=version)
        assert assert_error(r, 422)["detail"].endswith("the token's key version is not known")
    assert _reversals(gateway)[-1]["decision"]["reason_code"] == "token_key_version_unknown"
    assert _reverse(gateway, first, "mobile", mobile, key_version=1).status_code == 200


@pytest.mark.parametrize("recipient", ["civil-affairs", "no-such-app"])
def test_the_named_app_must_be_released_the_column(
    gateway: Gateway, source_url: str, recipient: str
) -> None:
    # A department or an unknown name is no app the policy releases the column to.
    first, _ = _register_two(gateway, source_url)
    r = _reverse(gateway, first, "mobile", "t1_AAAA", recipient=recipient)
    assert assert_error(r, 422)["detail"].endswith(
        "the dataset's policy does not release this column tokenised to this app"
    )
