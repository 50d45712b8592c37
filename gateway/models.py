"""Imports every domain's ORM models so the metadata is complete (Alembic's autogenerate).

It sits above every domain; the store below them holds only the base and the engine.
"""

from gateway.access.models import CasbinRule, DailyRuns, PolicyEpoch
from gateway.auditlog.models import (
    AuditCheckpoint,
    AuditEntryRow,
    AuditNode,
    AuditSequencer,
    AuditSubject,
    ResidentLink,
)
from gateway.auth.models import ApiKey, ConsoleSession, Principal
from gateway.budget.models import BudgetSpend, DatasetBudget, ReleaseClaim, StoredRelease
from gateway.catalog.models import Dataset, PolicyVersion, Source, SourceIdentity
from gateway.requests.models import QueryRequest
from gateway.store.base import Base
from gateway.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage

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
    "ConsoleSession",
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
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookMessage",
]
