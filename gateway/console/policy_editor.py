"""The YAML editor's checks: ``cdg policy check`` problems by line, the dataset's policy
tests (``cdg policy test`` cases), both on text typed in the browser."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway import yaml_documents
from gateway.catalog.schemas import DatasetCreate
from gateway.decisions.documents import Problem, check_document
from gateway.decisions.policy_tests import Case, _run_case
from policies import PurposeHierarchy

MAX_TEXT = 200_000  # characters of YAML the editor accepts


def check_text(text: str, hierarchy: PurposeHierarchy) -> list[Problem]:
    """The problems ``cdg policy check`` reports for ``text`` (dataset or policy document)."""
    if len(text) > MAX_TEXT:
        return [Problem(1, "", "the document is too long")]
    # check_document reads a file: the text goes to a private temporary one.
    with tempfile.TemporaryDirectory(prefix="cdg-console-") as folder:
        path = Path(folder) / "document.yaml"
        path.write_text(text, encoding="utf-8")
        return check_document(path, hierarchy)


@dataclass(frozen=True)
class TestOutcome:
    case: str
    passed: bool
    detail: str


def run_tests(dataset_text: str, tests_text: str, hierarchy: PurposeHierarchy) -> list[TestOutcome]:
    """Run the ``cases`` of a policy-test document against the dataset document."""
    try:
        dataset = DatasetCreate.model_validate(yaml_documents.load(dataset_text))
    except (yaml.YAMLError, ValidationError):
        return [TestOutcome("(dataset)", False, "the dataset document does not pass the check")]
    try:
        raw: Any = yaml_documents.load(tests_text) or {}
        items = raw.get("cases", []) if isinstance(raw, dict) else raw
        cases = [Case.model_validate(c) for c in items or []]
    except (yaml.YAMLError, ValidationError, AttributeError):
        return [TestOutcome("(tests)", False, "the tests are not a list of valid cases")]
    outcomes = []
    for case in cases:
        problem = _run_case(case, dataset, hierarchy)
        outcomes.append(TestOutcome(case.name, problem is None, problem or "ok"))
    return outcomes
