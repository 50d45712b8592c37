"""Bodies of token reversal."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReverseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(max_length=32)
    column: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    token: str = Field(min_length=1, max_length=200)
    key_version: int | None = Field(
        default=None, ge=1, description="FF1 tokens carry no version: the run's key version."
    )
    justification: str = Field(min_length=1, max_length=1000)


class ReverseOut(BaseModel):
    value: str
    key_version: int
