"""What crosses HTTP for webhooks: registration, listings and the delivery log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL on a host in the operator's CDG_WEBHOOK_HOSTS allow-list.",
        examples=["https://notify.heping.example/cdg"],
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="Signing secret (whsec_...). Shown once, in this answer only: store it."
    )


class DeliveryOut(BaseModel):
    """One delivery attempt; response bodies are never kept."""

    message_id: str
    event: str
    attempt: int
    attempted_at: datetime
    outcome: str = Field(description="delivered, retry (will be tried again) or failed (gave up)")
    status_code: int | None
    duration_ms: int
    error: str | None = Field(description="Class of the transport error, e.g. ConnectError.")
