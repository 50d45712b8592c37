"""What the catalogue tells an app about each purpose, and the purpose hierarchy.

Per purpose: the row scope, the minimum group size, k, the row limit, the daily quota,
and for differentially private purposes ε per run and window with what the app has left
(which a run moves). ``/v1/purposes`` lists the hierarchy with Chinese and English names.
"""

from __future__ import annotations

from pathlib import Path

from gateway.demo.community import Community
from gateway.demo.sources import SOURCE_TABLES, write_sources
from tests.conftest import Gateway, assert_error
from tests.gateway.budget.dp_setup import rows, write
from tests.gateway.budget.test_budgets import PURPOSE, SUM_BY_GROUP, dp_policy, setup
from tests.gateway.catalog.test_lifecycle import residents


def test_an_app_sees_each_purposes_terms_and_its_budget_left(
    gateway: Gateway, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'visits.db'}"
    write(url, rows(people=300))
    dataset = setup(gateway, url, dp_policy(epsilon_per_run=1.0, epsilon_per_window=2.5))

    def offer() -> dict[str, object]:
        shown = gateway.get("heping-committee", f"/v1/datasets/{dataset}").json()
        [purpose] = shown["purposes"]
        listed = gateway.get("heping-committee", "/v1/datasets").json()
        assert [d["purposes"] for d in listed if d["id"] == dataset] == [[purpose]]
        return dict(purpose)

    before = offer()
    assert before["purpose"] == PURPOSE and before["min_group_size"] == 10
    assert before["row_scope"] == [
        {"column": "community", "op": "=", "value": None, "principal": "domain"}
    ]
    assert before["max_rows"] is None and before["max_runs_per_day"] is None
    dp = before["dp"]
    assert isinstance(dp, dict)
    assert dp["epsilon_per_run"] == 1.0 and dp["epsilon_per_window"] == 2.5
    assert dp["window"] == "month" and dp["epsilon_left"] == 2.5
    qid = gateway.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
    assert gateway.run("heping-committee", qid, {"max_age": 200}).status_code == 200
    after = offer()["dp"]
    assert isinstance(after, dict) and after["epsilon_left"] == 1.5
    # Departments and auditors read the terms, not an app's ledger.
    owner = gateway.get("civil-affairs", f"/v1/datasets/{dataset}").json()
    assert owner["purposes"][0]["dp"]["epsilon_left"] is None


def test_row_release_terms_are_shown(
    gateway: Gateway, tmp_path: Path, small_community: Community
) -> None:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    write_sources(small_community, dict.fromkeys(SOURCE_TABLES, url))
    assert gateway.post("civil-affairs", "/v1/sources", {"name": "ca", "url": url}).status_code
    spec = residents()
    visit_rule = spec["policy"]["purposes"][0]
    visit_rule["k_anonymity"] = 3  # k holds only when no column tells one person apart
    for column in ("resident_id", "name", "mobile"):
        del visit_rule["columns"][column]
    r = gateway.post("civil-affairs", "/v1/datasets", spec)
    assert r.status_code == 201, r.text
    shown = gateway.get("heping-committee", f"/v1/datasets/{r.json()['id']}").json()
    visit, planning = shown["purposes"]
    assert visit["max_rows"] == 2000 and visit["max_runs_per_day"] == 50
    assert visit["k_anonymity"] == 3 and visit["dp"] is None
    assert visit["row_scope"] == [
        {"column": "community", "op": "=", "value": None, "principal": "domain"},
        {"column": "age", "op": ">=", "value": 70, "principal": None},
    ]
    assert planning["min_group_size"] == 10 and planning["access"] == "aggregate"


def test_the_purpose_hierarchy_is_listed_with_names(gateway: Gateway) -> None:
    for who in ("civil-affairs", "heping-committee", "district-auditor"):
        r = gateway.get(who, "/v1/purposes")
        assert r.status_code == 200, r.text
    nodes = {n["purpose"]: n for n in r.json()}
    visit = nodes["public-service.elderly-care.home-visit"]
    assert visit["zh"] == "独居老人上门探访" and visit["en"].startswith("home visits")
    assert visit["parent"] == "public-service.elderly-care" and visit["depth"] == 2
    assert nodes["public-service"]["parent"] is None
    paths = [n["purpose"] for n in r.json()]
    assert paths == sorted(paths)
    assert_error(gateway.client.get("/v1/purposes"), 401)
