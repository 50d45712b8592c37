"""Policy unit tests in YAML, like ``opa test`` (``cdg policy test DIR``).

A test file names a dataset document (path relative to the test file) and cases:

    dataset: ../residents.yaml
    cases:
      - name: the committee may visit elderly residents of its own community
        principal: {name: heping-committee, role: neighbourhood-committee, domain: heping}
        purpose: public-service.elderly-care.home-visit
        query: {select: [name, age]}
        expect: {allow: true, columns: {name: mask, age: keep},
                 row_scope: [[community, "=", heping], [age, ">=", 70]]}
      - name: a property company may not
        principal: {name: jianshe-property, role: property, domain: jianshe}
        purpose: public-service.elderly-care.home-visit
        query: {select: [age]}
        expect: {deny: role_not_granted}

Optional per case: ``now`` (ISO time, for validity windows) and ``runs_today``.
Each case is decided exactly as the gateway decides: casbin rules derived from the
document, the purpose hierarchy, then ``policies.decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.catalog.schemas import DatasetCreate
from gateway.errors import InvalidRequest
from gateway.queries.binding import ColumnInfo, DatasetView, check_spec
from gateway.queries.spec import QuerySpec
from policies import (
    Circumstances,
    Decision,
    PolicyEngine,
    PrincipalFacts,
    PurposeHierarchy,
    RoleAssignment,
    decide,
    derive_rules,
    policy_version,
)

TEST_DATASET_ID = "ds_under_test"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrincipalIn(_Strict):
    name: str
    role: str
    domain: str
    kind: str = "app"


class Expectation(_Strict):
    allow: bool | None = None
    deny: str | None = None
    columns: dict[str, str] | None = None
    row_scope: list[list[Any]] | None = None
    access: str | None = None
    min_group_size: int | None = None


class Case(_Strict):
    name: str
    principal: PrincipalIn
    purpose: str
    query: dict[str, Any]
    expect: Expectation
    now: datetime | None = None
    runs_today: int = 0


class TestFile(_Strict):
    dataset: str
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class Outcome:
    file: Path
    case: str
    passed: bool
    detail: str


def _view(dataset: DatasetCreate) -> DatasetView:
    return DatasetView(
        id=TEST_DATASET_ID,
        name=dataset.name,
        owner="test",
        table=dataset.table,
        privacy_unit=dataset.privacy_unit,
        columns={
            c.name: ColumnInfo(c.name, c.type, c.type, c.classification) for c in dataset.columns
        },
    )


def _run_case(case: Case, dataset: DatasetCreate, hierarchy: PurposeHierarchy) -> str | None:
    """None when the case passes, else what differed."""
    who = PrincipalFacts(
        case.principal.name, case.principal.kind, case.principal.role, case.principal.domain
    )
    rules = derive_rules(
        {TEST_DATASET_ID: dataset.policy}, [RoleAssignment(who.name, who.role, who.domain)]
    )
    engine = PolicyEngine(rules, hierarchy)
    try:
        spec = QuerySpec.model_validate(case.query)
        check_spec(spec, _view(dataset))
    except (ValidationError, InvalidRequest) as exc:
        return None if case.expect.deny == "invalid_query" else f"query is invalid: {exc}"
    facts = Circumstances(
        granted=engine.granted_purpose(who.name, who.domain, TEST_DATASET_ID, case.purpose),
        now=case.now or datetime.now(UTC),
        runs_today=case.runs_today,
        known_purpose=case.purpose in hierarchy,
    )
    sensitive = [c.name for c in dataset.columns if c.classification == "sensitive"]
    result = decide(
        who,
        dataset.policy,
        policy_version(dataset.policy),
        case.purpose,
        spec.shape(sensitive),
        facts,
    )
    expect = case.expect
    if not isinstance(result, Decision):
        if expect.deny == result.code:
            return None
        return f"denied ({result.code}: {result.message_en}), expected {expect.deny or 'allow'}"
    if expect.deny is not None or expect.allow is False:
        return f"allowed by '{result.purpose}', expected denial {expect.deny}"
    if expect.columns is not None:
        treatments = {n: str(c.treatment) for n, c in result.columns.items()}
        if treatments != expect.columns:
            return f"columns {treatments}, expected {expect.columns}"
    if expect.row_scope is not None:
        scope = [[s.column, s.op, s.value] for s in result.row_scope]
        if scope != expect.row_scope:
            return f"row scope {scope}, expected {expect.row_scope}"
    if expect.access is not None and result.access != expect.access:
        return f"access {result.access}, expected {expect.access}"
    if expect.min_group_size is not None and result.min_group_size != expect.min_group_size:
        return f"k {result.min_group_size}, expected {expect.min_group_size}"
    return None


def run_directory(directory: Path, hierarchy: PurposeHierarchy) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for path in sorted(directory.rglob("*.yaml")):
        try:
            spec = TestFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
            raw = yaml.safe_load((path.parent / spec.dataset).read_text(encoding="utf-8"))
            dataset = DatasetCreate.model_validate(raw)
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            outcomes.append(Outcome(path, "(file)", False, f"cannot load: {exc}"))
            continue
        for case in spec.cases:
            problem = _run_case(case, dataset, hierarchy)
            outcomes.append(Outcome(path, case.name, problem is None, problem or "ok"))
    return outcomes
