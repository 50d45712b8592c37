"""Response bodies of the access log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from anonymizers import normalise_identifier
from anonymizers.pii.checksums import is_valid_legacy_resident_id, is_valid_resident_id


class AuditEntryOut(BaseModel):
    index: int
    recorded_at: datetime
    leaf_hash: str
    entry: dict[str, Any]


class CheckpointOut(BaseModel):
    origin: str
    size: int
    root: str = Field(description="Base64 RFC 6962 root hash.")
    note: str = Field(description="The C2SP signed note.")
    verifier_keys: list[str] = Field(description="Note verifier keys of every signing key version.")


class InclusionProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str] = Field(description="Base64 hashes, RFC 9162 order.")


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    proof: list[str]


class SummaryRow(BaseModel):
    key: str | None = Field(description="Dataset id or principal name.")
    runs: int
    denials: int
    rows_released: int
    privacy_spent: float


class SubjectLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: str = Field(
        min_length=1,
        max_length=64,
        description="A resident's ID number: 18 characters (GB 11643, valid check character) "
        "or the 15-digit first-generation form.",
    )

    @field_validator("id_number")
    @classmethod
    def _resident_id(cls, value: str) -> str:
        # Anything else (a name, a mistyped number) would still get a SubjectRef that matches
        # no resident; the message never repeats the value.
        text = normalise_identifier(value)
        if not (is_valid_resident_id(text) or is_valid_legacy_resident_id(text)):
            raise ValueError("not a valid resident ID number (18 characters or 15 digits)")
        return value


class SubjectRefOut(BaseModel):
    subject_ref: str


class SubjectAccess(BaseModel):
    index: int = Field(description="The entry's index: pass the last one as `after` for more.")
    time: str
    app: str = Field(description="Name of the app that received the rows.")
    purpose: str | None
    legal_basis: str | None
    dataset: str | None = Field(description="Dataset id.")
    dataset_name: str | None = Field(
        default=None, description="The dataset's name as the entry recorded it at the time."
    )
    justification: str | None = Field(
        default=None, description="The justification the app stated when it filed the query."
    )
    justification_matches_log: bool | None = Field(
        default=None,
        description="Whether the justification is still the text whose SHA-256 digest the "
        "entry recorded (false: it was changed since; null: the entry records no digest).",
    )
    columns: list[dict[str, Any]]


class ResidentLinkCreate(SubjectLookup):
    """Issue a resident a one-time link: their ID number and how long the link stays valid."""

    expires_in_hours: int | None = Field(
        default=None,
        ge=1,
        le=720,
        description="Hours until the link expires unused (1 hour to 30 days; default "
        "CDG_RESIDENT_LINK_HOURS, 72).",
    )


class ResidentLinkIssued(BaseModel):
    id: str
    url: str = Field(description="The link to give the resident; shown only this once.")
    token: str = Field(description="The link's secret (part of `url`); never stored.")
    expires_at: datetime


class ResidentLinkOut(BaseModel):
    id: str
    issued_by: str = Field(description="Name of the department principal that issued it.")
    created_at: datetime
    expires_at: datetime
    state: str = Field(description="`unused`, `opened`, `expired` or `revoked`.")
    opened_at: datetime | None


class VerifyOut(BaseModel):
    """What ``cdg audit verify --json`` prints, for the log as stored now."""

    intact: bool
    entries: int
    checkpoints: int
    signed_size: int = Field(description="Entries covered by the newest valid signed checkpoint.")
    witnessed_size: int
    unsigned_entries: int
    oldest_unsigned_age_seconds: float | None
    first_bad_index: int | None
    problem: str | None = Field(description="The first problem's code (docs/audit.md).")
    message: str | None
