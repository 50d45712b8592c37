"""Bodies of decision explanations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.queries.spec import QuerySpec
from policies.purposes import PURPOSE_PATTERN


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(max_length=32)
    purpose: str = Field(pattern=PURPOSE_PATTERN)
    spec: QuerySpec
    app: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_-]{1,63}$",
        description="Departments and auditors: the app to explain for.",
    )


class MatchedRule(BaseModel):
    role: str
    domain: str
    dataset: str
    purpose: str


class ExplainOut(BaseModel):
    allowed: bool
    reason_code: str
    message_zh: str
    message_en: str
    policy_version: str
    matched_rule: MatchedRule | None = Field(description="The casbin grant that applied, if any.")
    decision: dict[str, Any] | None = Field(
        description="What a run would get: columns and treatments, row scope, k, DP parameters."
    )
