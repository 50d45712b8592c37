"""Checking policy and dataset documents offline, with line numbers (``cdg policy check``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from anonymizers import AnonymizerError, OperatorContext, build_operator
from gateway import yaml_documents
from gateway.catalog.schemas import DatasetCreate
from policies import PurposeHierarchy, UsagePolicy, check_policy

_PROBE = OperatorContext(
    master_key=bytes(32),
    key_version=1,
    owner="check",
    recipient="check",
    dataset="check",
    column="check",
)


@dataclass(frozen=True)
class Problem:
    line: int
    where: str
    message: str


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (best effort)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            found = node.value[part]
        else:
            found = None
        if found is None:
            break
        node = found
        line = node.start_mark.line + 1
    return line


def check_document(path: Path, hierarchy: PurposeHierarchy) -> list[Problem]:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml_documents.compose(text)
        data = yaml_documents.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        message = (
            f"nested deeper than {yaml_documents.MAX_NESTING} levels"
            if isinstance(exc, yaml_documents.TooDeep)
            else "not valid YAML or JSON"
        )
        return [Problem(mark.line + 1 if mark else 1, "", message)]
    is_dataset = isinstance(data, dict) and "columns" in data and "policy" in data
    prefix: tuple[Any, ...] = ()
    try:
        if is_dataset:
            dataset = DatasetCreate.model_validate(data)
            policy, prefix = dataset.policy, ("policy",)
        else:
            policy = UsagePolicy.model_validate(data)
    except ValidationError as exc:
        return [
            Problem(_line_of(root, tuple(err["loc"])), ".".join(map(str, err["loc"])), err["msg"])
            for err in exc.errors()
        ]
    problems: list[Problem] = []
    for i, rule in enumerate(policy.purposes):
        for name, column in rule.columns.items():
            try:
                build_operator(column.treatment, column.params, _PROBE)
            except AnonymizerError:
                loc: tuple[Any, ...] = (*prefix, "purposes", i, "columns", name)
                problems.append(
                    Problem(
                        _line_of(root, loc), ".".join(map(str, loc)), "invalid treatment parameters"
                    )
                )
    columns = [c.name for c in dataset.columns] if is_dataset else None
    classes: dict[str, str] = (
        {c.name: str(c.classification) for c in dataset.columns} if is_dataset else {}
    )
    for message in check_policy(policy, columns or _named_columns(policy), classes, hierarchy):
        purpose = message.split(":", 1)[0].removeprefix("purpose ").split(" ", 1)[0]
        index = next((i for i, r in enumerate(policy.purposes) if r.purpose == purpose), None)
        where: tuple[Any, ...] = (*prefix, "purposes", index) if index is not None else prefix
        problems.append(Problem(_line_of(root, where), ".".join(map(str, where)), message))
    return problems


def _named_columns(policy: UsagePolicy) -> list[str]:
    """Without a dataset, every column a policy names counts as present."""
    names: set[str] = set()
    for rule in policy.purposes:
        names.update(rule.columns)
        names.update(c.column for c in rule.row_scope)
    return sorted(names)
