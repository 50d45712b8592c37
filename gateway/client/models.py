"""The typed bodies the client sends and receives: the server's own pydantic schemas.

Imported, never copied, so client and server cannot drift apart: a field added to a
response is a field the client parses.
"""

from __future__ import annotations

from gateway.auditlog.schemas import (
    AuditEntryOut,
    CheckpointOut,
    ConsistencyProofOut,
    InclusionProofOut,
    ResidentLinkIssued,
    ResidentLinkOut,
    SubjectAccess,
    SubjectRefOut,
    SummaryRow,
    VerifyOut,
)
from gateway.auth.schemas import KeyIssuedOut, KeysExpiredOut, PrincipalOut
from gateway.budget.schemas import BudgetOut
from gateway.catalog.schemas import (
    ColumnFindingOut,
    DatasetCreate,
    DatasetOut,
    DatasetRetirementOut,
    PolicyPreviewOut,
    PurposeNodeOut,
    SourceOut,
    SourceRetirementOut,
)
from gateway.decisions.schemas import ExplainOut, ExplainRequest
from gateway.queries.schemas import RunResult
from gateway.requests.schemas import Approval, QueryRequestCreate, QueryRequestOut
from gateway.tokens.schemas import ReverseOut, ReverseRequest
from gateway.webhooks.schemas import DeliveryOut, WebhookCreated, WebhookOut
from policies import UsagePolicy

__all__ = [
    "Approval",
    "AuditEntryOut",
    "BudgetOut",
    "CheckpointOut",
    "ColumnFindingOut",
    "ConsistencyProofOut",
    "DatasetCreate",
    "DatasetOut",
    "DatasetRetirementOut",
    "DeliveryOut",
    "ExplainOut",
    "ExplainRequest",
    "InclusionProofOut",
    "KeyIssuedOut",
    "KeysExpiredOut",
    "PolicyPreviewOut",
    "PrincipalOut",
    "PurposeNodeOut",
    "QueryRequestCreate",
    "QueryRequestOut",
    "ResidentLinkIssued",
    "ResidentLinkOut",
    "ReverseOut",
    "ReverseRequest",
    "RunResult",
    "SourceOut",
    "SourceRetirementOut",
    "SubjectAccess",
    "SubjectRefOut",
    "SummaryRow",
    "UsagePolicy",
    "VerifyOut",
    "WebhookCreated",
    "WebhookOut",
]
