"""The run request's body: optional when every parameter has a default, a run request
when it is there."""

from __future__ import annotations

from pathlib import Path

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway

HOME_VISIT = "public-service.elderly-care.home-visit"


def test_a_query_whose_parameters_all_have_defaults_runs_with_no_body(
    gateway: Gateway, small_community: Community, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    dataset = gateway.register_demo_dataset("residents", url)
    qid = gateway.approved_query("heping-committee", dataset, HOME_VISIT, {"select": ["age"]})
    path = f"/v1/queries/{qid}/run"
    bare = gateway.client.post(path, headers=gateway.auth("heping-committee"))
    assert bare.status_code == 200, bare.text
    assert bare.json()["rows"] == gateway.run("heping-committee", qid).json()["rows"]
    # A body that is there must still be a run request.
    wrong = gateway.client.post(
        path,
        content=b"[1]",
        headers={**gateway.auth("heping-committee"), "Content-Type": "application/json"},
    )
    assert wrong.status_code == 422 and wrong.json()["error"] == "InvalidRequest", wrong.text
    headers = {**gateway.auth("heping-committee"), "Content-Type": "application/json"}
    null = gateway.client.post(path, content=b"null", headers=headers)
    assert null.status_code == 422 and "must be an object" in null.json()["detail"], null.text
