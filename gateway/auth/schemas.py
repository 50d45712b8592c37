"""Request and response bodies of the caller's identity and API-key lifecycle."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.bounds import Instant


class PrincipalOut(BaseModel):
    name: str
    kind: str
    role: str
    domain: str


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: Instant | None = Field(
        default=None, description="When the new key stops working (a future time); none: never."
    )


class KeyIssuedOut(BaseModel):
    """A new API key, shown once: the gateway keeps only its digest."""

    principal: str
    api_key: str = Field(description="The new key; store it now, it cannot be shown again.")
    prefix: str = Field(description="The key's first characters, by which it is recognised.")
    expires_at: datetime | None
    previous_keys_valid_until: datetime | None = Field(
        description="When the principal's earlier keys stop working (None: it had none)."
    )


class KeysExpiredOut(BaseModel):
    principal: str
    expired: int = Field(description="How many working keys stopped working.")
    at: datetime
