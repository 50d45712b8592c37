"""Imports every domain's ORM models so the metadata is complete (Alembic, tests)."""

from gateway.auditlog.models import AuditEntryRow
from gateway.auth.models import ApiKey, Principal
from gateway.catalog.models import Dataset, PolicyVersion, Source
from gateway.requests.models import QueryRequest
from gateway.store.base import Base

__all__ = [
    "ApiKey",
    "AuditEntryRow",
    "Base",
    "Dataset",
    "PolicyVersion",
    "Principal",
    "QueryRequest",
    "Source",
]
