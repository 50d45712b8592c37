"""The purpose hierarchy: which purposes exist, and which covers which.

Purposes are dotted paths of nodes (``public-service.elderly-care.home-visit``).
The hierarchy ships as package data (``purposes.yaml``) and can be replaced by a
file of the same format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from policies.purposes import is_purpose


@dataclass(frozen=True)
class PurposeNode:
    path: str
    zh: str
    en: str


class PurposeHierarchy:
    def __init__(self, nodes: Iterable[PurposeNode]) -> None:
        self.nodes = {n.path: n for n in nodes}
        for path in self.nodes:
            if not is_purpose(path):
                raise ValueError(f"not a purpose path: {path}")
            parent = path.rpartition(".")[0]
            if parent and parent not in self.nodes:
                raise ValueError(f"purpose {path} has no parent node {parent}")

    def __contains__(self, path: object) -> bool:
        return path in self.nodes

    def edges(self) -> Iterator[tuple[str, str]]:
        """(child, parent) pairs: the casbin g2 links."""
        for path in sorted(self.nodes):
            parent = path.rpartition(".")[0]
            if parent:
                yield path, parent

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PurposeHierarchy:
        nodes: list[PurposeNode] = []

        def walk(prefix: str, tree: Mapping[str, Any]) -> None:
            for name, body in tree.items():
                path = f"{prefix}.{name}" if prefix else str(name)
                body = body or {}
                nodes.append(PurposeNode(path, str(body.get("zh", "")), str(body.get("en", ""))))
                walk(path, body.get("children") or {})

        walk("", data)
        return cls(nodes)


def load_hierarchy(path: Path | None = None) -> PurposeHierarchy:
    if path is None:
        text = resources.files("policies").joinpath("purposes.yaml").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return PurposeHierarchy.from_mapping(yaml.safe_load(text) or {})
