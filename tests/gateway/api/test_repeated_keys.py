"""A JSON body whose object gives one key twice is refused, at any depth, on every route that
takes a JSON body (a route that takes none does not read one).

Python keeps the last of two equal keys, other readers the first or neither: one body must
not mean one thing to the gateway and another to whoever reads it. Each refusal is the
documented ``422 InvalidRequest``, names the key only when it is a simple name, never
repeats a value, and leaves the store, the source and the run counts as they were. Every
body below would be accepted if the last key won (the last value is the valid one).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.api.errors import RepeatedKey
from gateway.api.json_body import loads
from gateway.demo.catalog import DATASETS
from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, assert_error, leaves_unchanged

HOME_VISIT = "public-service.elderly-care.home-visit"
SPEC: dict[str, Any] = {
    "select": ["age"],
    "filters": [{"column": "age", "op": ">=", "value": {"param": "min_age"}}],
    "params": {"min_age": {"type": "integer", "default": 80}},
}
RESIDENTS_POLICY = next(d for d in DATASETS if d["name"] == "residents")["policy"]
HIDDEN = "value-never-echoed-7f3a"  # the first of two values: it must not reach the answer
JSON = {"Content-Type": "application/json"}


def repeated(value: Any, path: tuple[Any, ...], key: str, first: Any) -> str:
    """``value`` as JSON text, the object at ``path`` giving ``key`` first as ``first``."""
    if not path:
        assert isinstance(value, dict)
        pairs = [(key, first), *value.items()]
        return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
    head, *rest = path
    if isinstance(value, dict):
        parts = [
            json.dumps(k) + ": "
            + (repeated(v, tuple(rest), key, first) if k == head else json.dumps(v))
            for k, v in value.items()
        ]
        return "{" + ", ".join(parts) + "}"
    items = [repeated(v, tuple(rest), key, first) if i == head else json.dumps(v)
             for i, v in enumerate(value)]
    return "[" + ", ".join(items) + "]"


def refused_as_repeated(response: Any, key: str | None) -> None:
    body = assert_error(response, 422, echoed=(HIDDEN,))
    assert body["error"] == "InvalidRequest", body
    shown = f"'{key}'" if key else "<key>"
    assert body["detail"] == (
        f"body: the key {shown} appears twice in one object; "
        "a JSON object may give each key only once"
    ), body


@pytest.fixture
def world(gateway: Gateway, small_community: Community, tmp_path: Path) -> tuple[str, str, str]:
    """(source URL, residents dataset id, an approved query with a parameter)."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    dataset = gateway.register_demo_dataset("residents", url)
    qid = gateway.approved_query("heping-committee", dataset, HOME_VISIT, SPEC)
    return url, dataset, qid


# -- the parser --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        b'{"params": {"min_age": 85, "room": "1", "blds": [1, 2, 3]}}',
        b'{"a": [{"b": 1}, {"b": 2}], "b": {"a": {"b": null}}}',
        '{"名": "\u00e9\U0001f600", "x": "\\ud800"}'.encode(),
        b'\xef\xbb\xbf{"bom": 1}',  # a UTF-8 byte order mark is skipped (RFC 8259 allows it)
        b'[1, 2.5, -0, 1e400, NaN, "s", true, false, null]',
        b'"only a string"',
    ],
)
def test_loads_reads_utf8_as_json_loads_does(text: bytes) -> None:
    assert json.dumps(loads(text)) == json.dumps(json.loads(text))


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b'{"a": 1,}', b"{'a': 1}", b'{"a": 1} x', b"[" * 100_000],
)
def test_loads_refuses_what_json_loads_refuses(text: bytes) -> None:
    with pytest.raises(Exception) as theirs:  # the same type, whatever it is
        json.loads(text)
    with pytest.raises(type(theirs.value)):
        loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"utf16": true}'.encode("utf-16"),
        '{"utf16": true}'.encode("utf-16-le"),
        '{"utf16": true}'.encode("utf-16-be"),
        '{"utf32": true}'.encode("utf-32"),
        '{"utf32": true}'.encode("utf-32-le"),
        '{"utf32": true}'.encode("utf-32-be"),
        b'{"surrogate": "\xed\xa0\x80"}',  # U+D800 encoded as if it were a character
    ],
)
def test_loads_reads_nothing_but_utf8_where_json_loads_would_guess(text: bytes) -> None:
    """RFC 8259 §8.1: JSON between systems is UTF-8; json.loads guesses UTF-16 and UTF-32."""
    json.loads(text)  # Python would read it
    # Not UTF-8 (UnicodeDecodeError), or UTF-8 whose NUL characters are not JSON
    # (JSONDecodeError): either is answered as a body that is not valid JSON.
    with pytest.raises(ValueError):
        loads(text)


@pytest.mark.parametrize(
    "text",
    [
        b"\xff\xfe\x00\x01",
        '{"latin1": "caf\u00e9"}'.encode("latin-1"),
        b'\xef\xbb\xbf\xef\xbb\xbf{"two boms": 1}',
        b"\xef\xbb\xbf",
    ],
)
def test_loads_refuses_what_is_not_json_in_any_encoding(text: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):  # UnicodeDecodeError or JSONDecodeError
        loads(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (b'{"purpose": "a", "purpose": "b"}', "purpose"),
        (b'{"params": {"min_age": 1, "min_age": 99}}', "min_age"),
        (b'{"a": [1, {"b": [{"c": 1, "d": 2, "c": 3}]}]}', "c"),
        (b'[{"x": 1}, {"x": 1, "x": 1}]', "x"),  # equal values too
        (b'{"a": 1, "\\u0061": 2}', "a"),  # the same key, spelt with an escape
        (b'{"": 1, "": 2}', None),
        (b'{"a b; DROP": 1, "a b; DROP": 2}', None),
    ],
)
def test_loads_refuses_a_key_given_twice_in_one_object(text: bytes, key: str | None) -> None:
    with pytest.raises(RepeatedKey) as refused:
        loads(text)
    assert refused.value.status_code == 422
    shown = f"'{key}'" if key else "<key>"
    assert refused.value.detail.startswith(f"body: the key {shown} ")


def test_the_same_key_in_different_objects_is_not_repeated() -> None:
    assert loads(b'{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}') == {
        "a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]
    }


# -- over HTTP -----------------------------------------------------------------------------


def sent_by(gateway: Gateway, who: str) -> dict[str, str]:
    return {**gateway.auth(who), **JSON}


def runs_used(gateway: Gateway, qid: str) -> int:
    return int(gateway.get("civil-affairs", f"/v1/query-requests/{qid}").json()["runs_used"])


@pytest.mark.parametrize(
    ("path", "key", "first"),
    [
        pytest.param((), "params", {"min_age": HIDDEN}, id="top-level"),
        pytest.param(("params",), "min_age", HIDDEN, id="nested"),
        pytest.param(("params",), "min_age", 99, id="nested-valid-first"),
    ],
)
def test_a_run_with_a_repeated_key_is_refused_and_counts_nothing(
    gateway: Gateway, world: tuple[str, str, str], path: tuple[Any, ...], key: str, first: Any
) -> None:
    source, _, qid = world
    body = {"params": {"min_age": 85}}
    text = repeated(body, path, key, first)
    assert json.loads(text) == body  # the last key would have won
    url = f"/v1/queries/{qid}/run"
    before = runs_used(gateway, qid)
    with leaves_unchanged(gateway, source):
        r = gateway.client.post(url, content=text, headers=sent_by(gateway, "heping-committee"))
    refused_as_repeated(r, key)
    assert runs_used(gateway, qid) == before
    # The same body without the repeat runs, and is counted.
    ok = gateway.client.post(
        url, content=json.dumps(body), headers={**gateway.auth("heping-committee"), **JSON}
    )
    assert ok.status_code == 200, ok.text
    assert runs_used(gateway, qid) == before + 1


def test_the_refusal_comes_before_authentication(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    source, _, qid = world
    text = '{"params": {"min_age": 1, "min_age": 85}}'
    with leaves_unchanged(gateway, source):
        r = gateway.client.post(f"/v1/queries/{qid}/run", content=text, headers=JSON)
    refused_as_repeated(r, "min_age")
    assert runs_used(gateway, qid) == 0


def test_filing_a_request_with_a_repeated_key_stores_nothing(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    source, dataset, _ = world
    body = {"dataset": dataset, "purpose": HOME_VISIT, "justification": "visits", "spec": SPEC}
    cases = [
        ((), "purpose", HIDDEN),
        (("spec",), "select", ["name"]),
        (("spec", "filters", 0), "op", "<"),
        (("spec", "filters", 0, "value"), "param", HIDDEN),
        (("spec", "params", "min_age"), "default", 0),
    ]
    listed = gateway.get("heping-committee", "/v1/query-requests").json()
    for path, key, first in cases:
        text = repeated(body, path, key, first)
        assert json.loads(text) == body
        with leaves_unchanged(gateway, source):
            r = gateway.client.post(
                "/v1/query-requests", content=text, headers=sent_by(gateway, "heping-committee")
            )
        refused_as_repeated(r, key)
    assert gateway.get("heping-committee", "/v1/query-requests").json() == listed


def test_replacing_a_policy_with_a_repeated_key_changes_nothing(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    source, dataset, qid = world
    body = {"policy": copy.deepcopy(RESIDENTS_POLICY)}
    before = gateway.get("civil-affairs", f"/v1/datasets/{dataset}").json()
    cases = [((), "policy"), (("policy",), "purposes"), (("policy", "purposes", 0), "legal_basis")]
    for path, key in cases:
        text = repeated(body, path, key, HIDDEN)
        assert json.loads(text) == body
        with leaves_unchanged(gateway, source):
            r = gateway.client.put(
                f"/v1/datasets/{dataset}/policy",
                content=text,
                headers={**gateway.auth("civil-affairs"), **JSON},
            )
        refused_as_repeated(r, key)
    assert gateway.get("civil-affairs", f"/v1/datasets/{dataset}").json() == before
    assert gateway.get("civil-affairs", f"/v1/query-requests/{qid}").json()["status"] == "approved"


def test_a_source_url_given_twice_is_refused_without_repeating_either(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    source, _, _ = world
    secret = "postgresql://reader:s3cret-pass@db.internal/community"
    text = repeated({"name": "src-extra", "url": source}, (), "url", secret)
    with leaves_unchanged(gateway, source):
        r = gateway.client.post(
            "/v1/sources", content=text, headers={**gateway.auth("civil-affairs"), **JSON}
        )
    body = assert_error(r, 422, echoed=(secret, "s3cret-pass", source))
    assert "'url' appears twice" in body["detail"], body
    assert [s["name"] for s in gateway.get("civil-affairs", "/v1/sources").json()] == [
        "src-residents"
    ]


def test_every_operation_with_a_json_body_refuses_a_repeated_key(gateway: Gateway) -> None:
    """Whatever route is added later: each body operation of the API parses strictly."""
    operations = [
        (method.upper(), path)
        for path, item in gateway.client.get("/openapi.json").json()["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert len(operations) >= 15, operations
    for method, path in operations:
        url = path.replace("{", "x").replace("}", "x")
        for who in (None, "civil-affairs", "heping-committee", "district-auditor"):
            headers = {**JSON, **(gateway.auth(who) if who else {})}
            with leaves_unchanged(gateway, None):
                r = gateway.client.request(
                    method, url, content=f'{{"k": 1, "k": "{HIDDEN}"}}', headers=headers
                )
            refused_as_repeated(r, "k")


def test_a_json_media_type_suffix_is_parsed_as_strictly(
    gateway: Gateway, world: tuple[str, str, str]
) -> None:
    source, _, qid = world
    with leaves_unchanged(gateway, source):
        r = gateway.client.post(
            f"/v1/queries/{qid}/run",
            content='{"params": {}, "params": {}}',
            headers={**gateway.auth("heping-committee"), "Content-Type": "application/vnd.x+json"},
        )
    refused_as_repeated(r, "params")
    assert runs_used(gateway, qid) == 0
