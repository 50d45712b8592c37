"""The authenticated caller, as every service sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from policies import PrincipalFacts

Kind = Literal["department", "app", "auditor"]
KINDS: tuple[Kind, ...] = ("department", "app", "auditor")


@dataclass(frozen=True)
class AuthPrincipal:
    id: str
    name: str
    kind: str
    role: str
    domain: str

    def facts(self) -> PrincipalFacts:
        return PrincipalFacts(name=self.name, kind=self.kind, role=self.role, domain=self.domain)
