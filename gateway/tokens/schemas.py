"""Bodies of token reversal."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReverseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(max_length=32)
    column: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    recipient: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{1,63}$",
        description="The app the token was released to: tokens are keyed per recipient.",
    )
    # AES-SIV tokens of values up to 239 bytes (the 256-byte bucket) fit.
    token: str = Field(min_length=1, max_length=400)
    key_version: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="FF1 tokens carry no version: the run's key version.",
    )
    justification: str = Field(min_length=1, max_length=1000)


class ReverseOut(BaseModel):
    value: str
    key_version: int
