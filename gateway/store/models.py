"""Imports every domain's ORM models so the metadata is complete (Alembic, tests)."""

from gateway.access.models import CasbinRule, PolicyEpoch
from gateway.auditlog.models import (
    AuditCheckpoint,
    AuditEntryRow,
    AuditNode,
    AuditSequencer,
    AuditSubject,
    ResidentLink,
)
from gateway.auth.models import ApiKey, Principal
from gateway.budget.claims import ReleaseClaim
from gateway.budget.models import BudgetSpend, DatasetBudget, StoredRelease
from gateway.catalog.models import Dataset, PolicyVersion, Source, SourceIdentity
from gateway.requests.models import DailyRuns, QueryRequest
from gateway.store.base import Base

__all__ = [
    "ApiKey",
    "AuditCheckpoint",
    "AuditEntryRow",
    "AuditNode",
    "AuditSequencer",
    "AuditSubject",
    "Base",
    "BudgetSpend",
    "CasbinRule",
    "DailyRuns",
    "Dataset",
    "DatasetBudget",
    "PolicyEpoch",
    "PolicyVersion",
    "Principal",
    "QueryRequest",
    "ReleaseClaim",
    "ResidentLink",
    "Source",
    "SourceIdentity",
    "StoredRelease",
]
