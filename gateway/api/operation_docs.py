"""What /docs and /redoc show for each operation: a description and worked examples.

One entry per operation, keyed ``"METHOD /path"`` as in the OpenAPI document. The
application's OpenAPI hook (gateway/api/openapi.py) copies each description into its
operation (unless the route wrote its own), the request example into the request body,
and the response example into the success response, so Swagger UI's "Try it out" starts
from a body the gateway accepts. The values are those of the demo community
(``cdg demo``). tests/gateway/api/test_openapi_docs.py checks that every operation has
a description and examples, that every example is valid against the operation's
schemas, and that no entry here names an operation that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OperationDoc:
    description: str
    # The request body's example (JSON), when the operation takes one.
    request: Any = None
    # Media type -> example of the success response; JSON unless said otherwise.
    response: dict[str, Any] = field(default_factory=dict)


def _json(example: Any) -> dict[str, Any]:
    return {"application/json": example}


# -- values shared by several examples ------------------------------------------------

_T = "2026-11-27T21:19:27.669492Z"
_T2 = "2026-11-28T09:00:00Z"
_DS = "ds_0b92ac5616af41088ef9"
_QR = "qr_7d1f3b9a2c4e4f0a8b6d"
_SRC = "src_53fbcec2edd642cbbf54"
_VERSION = "694cb138d1e27fb016dd92d43c6802470a8f3de25f1b4ed39d6676562be9973e"
_HASH = "3b8f2a4c1d9e7f60a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2"
_PURPOSE = "public-service.elderly-care.home-visit"
_LEGAL = "《个人信息保护法》第十三条第(三)(五)项: 履行法定职责, 独居老人探访"
_JUSTIFICATION = "独居老人季度探访 / quarterly visits to residents living alone"
_NOTE = (
    "community-data-gateway.example/log\n412\nO8n6h2c3qS1lW0Zb5lFqkq0n4yX2mVwz7gk1bTQpYb0=\n\n"
    "— cdg-log-1 5xY3kQAAAAB0cXVpY2sgYnJvd24gZm94IGp1bXBzIG92ZXIgdGhlIGxhenkgZG9n\n"
)
_VERIFIER = "cdg-log-1+5e79b4c1+AaX2Zr3YhV0yQk9c3kWm1zR8b7aT0JqWnU4xLp2oE6sF"

_SPEC = {
    "select": ["resident_id", "name", "mobile", "age", "building", "unit", "room"],
    "filters": [
        {"column": "lives_alone", "op": "=", "value": 1},
        {"column": "age", "op": ">=", "value": {"param": "min_age"}},
    ],
    "order_by": [{"column": "age", "desc": True}],
    "limit": 200,
    "params": {"min_age": {"type": "integer", "default": 80}},
}
_AGGREGATE_SPEC = {
    "aggregates": [{"fn": "persons", "as": "people"}, {"fn": "count", "as": "checkups"}],
    "group_by": ["diabetes"],
    "epsilon": 0.2,
}
_POLICY = {
    "retention": "统计结果保存一年 / keep aggregates one year",
    "purposes": [
        {
            "purpose": "public-service.community-planning",
            "legal_basis": "社区规划 / community planning",
            "grantees": [{"role": "neighbourhood-committee", "domains": ["heping"]}],
            "access": "aggregate",
            "columns": {"age": {}, "community": {}},
            "row_scope": [{"column": "community", "op": "=", "principal": "domain"}],
            "min_group_size": 20,
            "approval": "automatic",
        }
    ],
}
_PURPOSE_OUT = {
    "purpose": "public-service.community-planning",
    "legal_basis": "社区规划 / community planning",
    "access": "aggregate",
    "approval": "automatic",
    "columns": {"age": "keep", "community": "keep"},
    "row_scope": [{"column": "community", "op": "=", "value": None, "principal": "domain"}],
    "min_group_size": 20,
    "k_anonymity": None,
    "max_rows": None,
    "max_runs_per_day": None,
    "dp": None,
}
_COLUMNS_IN = [
    {"name": "resident_id", "type": "string", "classification": "direct_identifier"},
    {"name": "community", "type": "string", "classification": "attribute"},
    {"name": "age", "type": "integer", "classification": "quasi_identifier"},
]
_COLUMNS_OUT = [dict(c, description="") for c in _COLUMNS_IN]
_DATASET = {
    "id": "ds_26aca15906f64c8c966e",
    "name": "residents-lite",
    "owner": "civil-affairs",
    "description": "居民 (精简) / residents, few columns",
    "privacy_unit": "resident_id",
    "resident_id": None,
    "columns": _COLUMNS_OUT,
    "policy_version": _VERSION,
    "retention": "统计结果保存一年 / keep aggregates one year",
    "purposes": [_PURPOSE_OUT],
    "policy": None,
    "pii_findings": None,
    "created_at": _T,
    "updated_at": _T,
}
_FINDINGS = [
    {
        "column": "resident_id",
        "classification": "direct_identifier",
        "sampled": 200,
        "entities": {"CN_RESIDENT_ID": 200},
        "severity": "ok",
        "message": "",
    },
    {
        "column": "text",
        "classification": "free_text",
        "sampled": 200,
        "entities": {"PERSON": 65, "CN_MOBILE": 36},
        "severity": "info",
        "message": "32% of sampled texts contain personal information (PERSON); "
        "release it only with redact_pii",
    },
]
_SOURCE = {
    "id": _SRC,
    "name": "civil_affairs",
    "owner": "civil-affairs",
    "dialect": "postgresql",
    "created_at": _T,
}
_REQUEST = {
    "id": _QR,
    "app": "heping-committee",
    "dataset": _DS,
    "purpose": _PURPOSE,
    "justification": _JUSTIFICATION,
    "kind": "rows",
    "spec": _SPEC,
    "example_params": {"min_age": 80},
    "status": "approved",
    "reason": "",
    "decided_by": "civil-affairs",
    "decided_at": _T2,
    "expires_at": None,
    "max_runs": None,
    "row_cap": None,
    "runs_used": 0,
    "created_at": _T,
}
_IMPACT = {
    "id": _QR,
    "app": "heping-committee",
    "purpose": _PURPOSE,
    "effect": "breaks",
    "reason_code": "column_withheld",
    "reason": "该用途不提供字段“mobile” / column 'mobile' is withheld for this purpose",
    "changes": [],
}
_RECEIPT = {
    "entry_index": 411,
    "leaf_hash": _HASH,
    "recorded_at": _T2,
    "tree_size": 412,
    "inclusion_proof": [_HASH],
    "checkpoint": _NOTE,
    "entry": '{"event":"query.run","index":411}',
}
_ENTRY = {
    "event": "query.run",
    "time": _T2,
    "app": "heping-committee",
    "dataset": _DS,
    "purpose": _PURPOSE,
    "decision": {"allowed": True, "reason_code": "allowed"},
    "outcome": "ok",
    "rows_released": 12,
}
_KEY = "cdg_6nEg_3ZhZpX01lO2UQhdomGiYUaFAB0iQWRhc33mF5A"


OPERATIONS: dict[str, OperationDoc] = {
    # -- principals ------------------------------------------------------------------
    "GET /v1/principals/me": OperationDoc(
        "The principal the API key belongs to: its name, kind (department, app or auditor), "
        "role and domain. Any valid key may call it; use it to check a key.",
        response=_json(
            {
                "name": "heping-committee",
                "kind": "app",
                "role": "neighbourhood-committee",
                "domain": "heping",
            }
        ),
    ),
    "POST /v1/principals/me/rotate-key": OperationDoc(
        "Issue a new API key for the caller. The new key is shown once; the previous keys "
        "stay valid until `previous_keys_valid_until` so running clients can switch over.",
        request={"expires_at": "2027-06-30T00:00:00+08:00"},
        response=_json(
            {
                "principal": "heping-committee",
                "api_key": _KEY,
                "prefix": _KEY[:10],
                "expires_at": "2027-06-29T16:00:00Z",
                "previous_keys_valid_until": _T2,
            }
        ),
    ),
    "POST /v1/principals/{principal}/reissue-key": OperationDoc(
        "Issue a new API key for a principal of the calling department's own domain (its "
        "staff), e.g. after a key was lost. The new key is shown once; earlier keys stop at "
        "once.",
        request={"expires_at": None},
        response=_json(
            {
                "principal": "heping-committee",
                "api_key": _KEY,
                "prefix": _KEY[:10],
                "expires_at": None,
                "previous_keys_valid_until": None,
            }
        ),
    ),
    "POST /v1/principals/{principal}/expire-keys": OperationDoc(
        "End every working API key of a principal of the calling department's own domain "
        "now; no new key is issued, and the principal can be given one by reissue.",
        response=_json({"principal": "heping-committee", "expired": 2, "at": _T2}),
    ),
    # -- sources and datasets ----------------------------------------------------------
    "GET /v1/sources": OperationDoc(
        "The calling department's registered databases (never their URLs). Departments only.",
        response=_json([_SOURCE]),
    ),
    "POST /v1/sources": OperationDoc(
        "Register one of the department's databases. The gateway vets the URL (allowed "
        "hosts, the department's own directory for SQLite), connects, asks the database "
        "which database it is (one department per database), and stores the URL encrypted. "
        "A connection failure is a 422 whose `reason` names the cause: `source_auth_failed`, "
        "`source_database_missing`, `source_refused`, `source_unreachable`, "
        "`source_connect_timeout` or `source_connect_failed`. `postgres://` URLs are accepted.",
        request={"name": "civil_affairs", "url": "postgresql://reader:secret@10.0.3.7/civil"},
        response=_json(_SOURCE),
    ),
    "POST /v1/sources/{source_id}/retire": OperationDoc(
        "Retire a source (soft: it is kept, its name stays taken, no dataset can be "
        "registered on it). Each of its datasets is retired with it: approved queries "
        "revoked and pending requests rejected, with a reason the apps see.",
        request={"reason": "数据库迁移 / the database moved"},
        response=_json(
            {
                "source": dict(
                    _SOURCE,
                    retired_at=_T2,
                    retired_by="civil-affairs",
                    retire_reason="数据库迁移 / the database moved",
                ),
                "datasets": [
                    {
                        "id": _DS,
                        "name": "residents",
                        "owner": "civil-affairs",
                        "retired_at": _T2,
                        "retired_by": "civil-affairs",
                        "retire_reason": "数据源已停用 / the source was retired: "
                        "数据库迁移 / the database moved",
                        "closed": [
                            {
                                "id": _QR,
                                "app": "heping-committee",
                                "purpose": _PURPOSE,
                                "status": "revoked",
                                "reason": "数据源已停用 / the source was retired: "
                                "数据库迁移 / the database moved",
                            }
                        ],
                    }
                ],
            }
        ),
    ),
    "GET /v1/datasets": OperationDoc(
        "The catalogue the caller may see: a department its own datasets (with the policy "
        "document), an app the datasets offering it a purpose (only those purposes, with "
        "row scope, minimum group size, k, row cap, daily quota and ε left), an auditor all.",
        response=_json([_DATASET]),
    ),
    "POST /v1/datasets": OperationDoc(
        "Register a table of one of the department's sources as a dataset, with its columns "
        "and usage policy. The gateway checks the table and column types against the source "
        "and the policy against the dataset, then samples the table for unlabelled personal "
        "information (`pii_findings`, advice only).",
        request={
            "name": "residents-lite",
            "source": "civil_affairs",
            "table": "residents",
            "description": "居民 (精简) / residents, few columns",
            "privacy_unit": "resident_id",
            "columns": _COLUMNS_IN,
            "policy": _POLICY,
        },
        response=_json(dict(_DATASET, policy=_POLICY | {"version": 1}, pii_findings=_FINDINGS[:1])),
    ),
    "GET /v1/datasets/{dataset_id}": OperationDoc(
        "One dataset, as in the catalogue; 404 when it does not exist or the caller may not "
        "see it.",
        response=_json(_DATASET),
    ),
    "GET /v1/datasets/{dataset_id}/scan": OperationDoc(
        "Sample the dataset again for personal information its column classes do not "
        "declare (counts per kind, never values). The owning department only.",
        response=_json(_FINDINGS),
    ),
    "POST /v1/datasets/{dataset_id}/retire": OperationDoc(
        "Retire a dataset (soft, logged): no new requests or runs; its approved queries are "
        "revoked and pending ones rejected, with the reason the apps see.",
        request={"reason": "由 residents-2027 取代 / replaced by residents-2027"},
        response=_json(
            {
                "id": _DS,
                "name": "residents",
                "owner": "civil-affairs",
                "retired_at": _T2,
                "retired_by": "civil-affairs",
                "retire_reason": "由 residents-2027 取代 / replaced by residents-2027",
                "closed": [
                    {
                        "id": _QR,
                        "app": "heping-committee",
                        "purpose": _PURPOSE,
                        "status": "revoked",
                        "reason": "数据集已停用 / the dataset was retired: "
                        "由 residents-2027 取代 / replaced by residents-2027",
                    }
                ],
            }
        ),
    ),
    "PUT /v1/datasets/{dataset_id}/policy": OperationDoc(
        "Replace the dataset's usage policy. It is checked as on registration and applies at "
        "once in every gateway process; approved queries the new policy no longer allows are "
        "revoked with the reason (`revoked_queries`). Preview first with `.../policy/preview`.",
        request={"policy": _POLICY},
        response=_json(dict(_DATASET, policy=_POLICY | {"version": 1}, revoked_queries=[_IMPACT])),
    ),
    "POST /v1/datasets/{dataset_id}/policy/preview": OperationDoc(
        "What replacing the policy would do, without doing it: the difference between the "
        "two policies and which approved queries would break or change.",
        request={"policy": _POLICY},
        response=_json(
            {
                "dataset": _DS,
                "diff": {
                    "old_version": _VERSION,
                    "new_version": _HASH,
                    "changed": True,
                    "retention": None,
                    "purposes_added": [],
                    "purposes_removed": [],
                    "purposes_changed": [
                        {
                            "purpose": _PURPOSE,
                            "changes": [{"field": "min_group_size", "old": 10, "new": 20}],
                        }
                    ],
                },
                "breaks": [_IMPACT],
                "changes": [],
                "unchanged": 3,
            }
        ),
    ),
    "GET /v1/purposes": OperationDoc(
        "The purpose hierarchy (用途层级) with Chinese and English names, parents first. A "
        "grant for a purpose covers its descendants; requests name the most specific one.",
        response=_json(
            [
                {
                    "purpose": "public-service",
                    "zh": "公共服务",
                    "en": "public services",
                    "parent": None,
                    "depth": 0,
                },
                {
                    "purpose": "public-service.elderly-care",
                    "zh": "养老服务",
                    "en": "elderly care",
                    "parent": "public-service",
                    "depth": 1,
                },
                {
                    "purpose": _PURPOSE,
                    "zh": "上门探访",
                    "en": "home visits",
                    "parent": "public-service.elderly-care",
                    "depth": 2,
                },
            ]
        ),
    ),
    # -- query requests ----------------------------------------------------------------
    "POST /v1/query-requests": OperationDoc(
        "File a query for a declared purpose (apps). The policy decides at once: denied "
        "requests are refused with a reason code; allowed ones are approved automatically "
        "or wait for the owning department, as the purpose says.",
        request={
            "dataset": _DS,
            "purpose": _PURPOSE,
            "justification": _JUSTIFICATION,
            "spec": _SPEC,
            "example_params": {"min_age": 80},
        },
        response=_json(dict(_REQUEST, status="pending", decided_by=None, decided_at=None)),
    ),
    "GET /v1/query-requests": OperationDoc(
        "Query requests, newest first: an app's own, those on a department's datasets, all "
        "for an auditor. Filter with `status`; at most `limit`.",
        response=_json([_REQUEST]),
    ),
    "GET /v1/query-requests/{query_request}": OperationDoc(
        "One query request with its QuerySpec, status and, once decided, who decided when.",
        response=_json(_REQUEST),
    ),
    "POST /v1/query-requests/{query_request}/approve": OperationDoc(
        "Approve a pending request (the owning department), optionally narrowing it: an "
        "expiry, a number of runs, a row cap.",
        request={
            "expires_at": "2027-03-31T23:59:59+08:00",
            "max_runs": 12,
            "row_cap": 200,
            "note": "按季度探访 / quarterly",
        },
        response=_json(dict(_REQUEST, expires_at="2027-03-31T15:59:59Z", max_runs=12, row_cap=200)),
    ),
    "POST /v1/query-requests/{query_request}/reject": OperationDoc(
        "Reject a pending request with a reason the app sees (the owning department).",
        request={"reason": "请改为统计查询 / please ask for aggregates instead"},
        response=_json(
            dict(
                _REQUEST,
                status="rejected",
                reason="请改为统计查询 / please ask for aggregates instead",
            )
        ),
    ),
    "POST /v1/query-requests/{query_request}/revoke": OperationDoc(
        "Revoke an approved query: no further runs. The reason is shown to the app.",
        request={"reason": "探访项目结束 / the visiting programme ended"},
        response=_json(
            dict(_REQUEST, status="revoked", reason="探访项目结束 / the visiting programme ended")
        ),
    ),
    "POST /v1/queries/{query_request}/run": OperationDoc(
        "Run an approved query with parameter values (the app that filed it). The decision "
        "is taken again under the current policy; rows are released with each column's "
        "treatment, aggregates with small groups suppressed or with differential privacy. "
        "The answer carries a receipt: the access-log entry with its inclusion proof.",
        request={"params": {"min_age": 85}},
        response=_json(
            {
                "query_id": _QR,
                "kind": "rows",
                "purpose": _PURPOSE,
                "policy_version": _VERSION,
                "columns": ["resident_id", "name", "mobile", "age"],
                "rows": [["s_4ny5v24wmyege2zgbykci2x4iq", "张*", "138****5678", 91]],
                "row_count": 1,
                "treatments": {
                    "resident_id": "pseudonymise",
                    "name": "mask",
                    "mobile": "mask",
                    "age": "keep",
                },
                "suppressed_cells": 0,
                "withheld_values": 0,
                "truncated": False,
                "retention": "探访结束后30天内删除 / delete 30 days after the visit",
                "receipt": _RECEIPT,
                "dp": None,
            }
        ),
    ),
    # -- budgets, decisions, tokens --------------------------------------------------------
    "GET /v1/budgets": OperationDoc(
        "Privacy budgets (ε) of differentially private purposes: an app's own ledgers, a "
        "department's datasets', all for an auditor; spent and left in the current window, "
        "over the app's lifetime and over the dataset.",
        response=_json(
            [
                {
                    "app": "heping-committee",
                    "dataset": "checkups",
                    "dataset_id": _DS,
                    "window": "2026-11-28",
                    "total": 1.0,
                    "spent": 0.2,
                    "remaining": 0.8,
                    "lifetime_total": 10.0,
                    "lifetime_spent": 0.6,
                    "lifetime_remaining": 9.4,
                    "dataset_total": 50.0,
                    "dataset_spent": 1.4,
                    "dataset_remaining": 48.6,
                    "available": 0.8,
                }
            ]
        ),
    ),
    "POST /v1/decisions/explain": OperationDoc(
        "Which rule would allow or deny this query, and why, without filing or running it. "
        "An app asks for itself; a department names an app for its own datasets; an auditor "
        "for any app and dataset.",
        request={
            "dataset": _DS,
            "purpose": "public-service.elderly-care.health-follow-up",
            "spec": _AGGREGATE_SPEC,
            "app": "heping-committee",
        },
        response=_json(
            {
                "allowed": True,
                "reason_code": "allowed",
                "message_zh": "允许",
                "message_en": "allowed",
                "policy_version": _VERSION,
                "matched_rule": {
                    "role": "neighbourhood-committee",
                    "domain": "heping",
                    "dataset": _DS,
                    "purpose": "public-service.elderly-care.health-follow-up",
                },
                "decision": None,
            }
        ),
    ),
    "POST /v1/tokens/reverse": OperationDoc(
        "Turn a reversible token released to an app back into the value (the owning "
        "department, for a stated reason). Every reversal is logged with the justification.",
        request={
            "dataset": _DS,
            "column": "mobile",
            "recipient": "heping-committee",
            "token": "tok_1_9Yx3QmV2bW9iaWxl",
            "key_version": 1,
            "justification": "居民要求回访 / the resident asked to be called back",
        },
        response=_json({"value": "13812345678", "key_version": 1}),
    ),
    # -- webhooks ----------------------------------------------------------------------------
    "GET /v1/webhooks": OperationDoc(
        "The caller's webhook endpoints (never their secrets).",
        response=_json(
            [
                {
                    "id": "wh_5c2e8f1a9b3d4e6f",
                    "url": "https://apps.heping.example/hooks/cdg",
                    "created_at": _T,
                }
            ]
        ),
    ),
    "POST /v1/webhooks": OperationDoc(
        "Register an endpoint that receives the caller's notifications (requests filed, "
        "approved, rejected, revoked; budget nearly spent; verification failures), signed per "
        "the Standard Webhooks specification. The signing secret is shown once.",
        request={"url": "https://apps.heping.example/hooks/cdg"},
        response=_json(
            {
                "id": "wh_5c2e8f1a9b3d4e6f",
                "url": "https://apps.heping.example/hooks/cdg",
                "created_at": _T,
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            }
        ),
    ),
    "DELETE /v1/webhooks/{webhook_id}": OperationDoc(
        "Delete one of the caller's webhook endpoints; nothing more is delivered to it.",
    ),
    "GET /v1/webhooks/{webhook_id}/deliveries": OperationDoc(
        "The delivery log of one endpoint, newest first: each attempt, its outcome, the "
        "receiver's status code and how long it took.",
        response=_json(
            [
                {
                    "message_id": "msg_2f7c1d9e8b4a",
                    "event": "request.approved",
                    "attempt": 1,
                    "attempted_at": _T2,
                    "outcome": "delivered",
                    "status_code": 204,
                    "duration_ms": 38,
                    "error": None,
                }
            ]
        ),
    ),
    # -- the access log ----------------------------------------------------------------------
    "GET /v1/audit/entries": OperationDoc(
        "Access-log entries the caller may see, oldest first: apps their own, departments "
        "those about their datasets, auditors all. Filters combine; page with `after` (the "
        "last `index` seen).",
        response=_json([{"index": 411, "recorded_at": _T2, "leaf_hash": _HASH, "entry": _ENTRY}]),
    ),
    "GET /v1/audit/checkpoint": OperationDoc(
        "The newest signed checkpoint (log size and Merkle root, as a signed note) and the "
        "keys that verify it.",
        response=_json(
            {
                "origin": "community-data-gateway.example/log",
                "size": 412,
                "root": "O8n6h2c3qS1lW0Zb5lFqkq0n4yX2mVwz7gk1bTQpYb0=",
                "note": _NOTE,
                "verifier_keys": [_VERIFIER],
            }
        ),
    ),
    "POST /v1/audit/checkpoint": OperationDoc(
        "Sign and store a checkpoint of the log as it is now (auditors).",
        response=_json(
            {
                "origin": "community-data-gateway.example/log",
                "size": 412,
                "root": "O8n6h2c3qS1lW0Zb5lFqkq0n4yX2mVwz7gk1bTQpYb0=",
                "note": _NOTE,
                "verifier_keys": [_VERIFIER],
            }
        ),
    ),
    "GET /v1/audit/verify": OperationDoc(
        "Verify the whole stored log now, as `cdg audit verify` does: every entry's hash and "
        "MAC, the tree, and the signed checkpoints (auditors). `problem` names the first "
        "problem found (docs/audit.md lists the codes).",
        response=_json(
            {
                "intact": True,
                "entries": 412,
                "checkpoints": 9,
                "signed_size": 400,
                "witnessed_size": 400,
                "unsigned_entries": 12,
                "oldest_unsigned_age_seconds": 41.5,
                "first_bad_index": None,
                "problem": None,
                "message": None,
            }
        ),
    ),
    "GET /v1/audit/proofs/inclusion": OperationDoc(
        "RFC 6962 inclusion proof that entry `index` is in the log of size `tree_size`.",
        response=_json({"index": 411, "tree_size": 412, "leaf_hash": _HASH, "proof": [_HASH]}),
    ),
    "GET /v1/audit/proofs/consistency": OperationDoc(
        "RFC 6962 consistency proof that the log of size `old_size` is a prefix of the log "
        "of size `new_size` (nothing was rewritten).",
        response=_json({"old_size": 400, "new_size": 412, "proof": [_HASH]}),
    ),
    "GET /v1/audit/summary": OperationDoc(
        "Runs, denials, rows released and privacy spent, per dataset or per app (`by`), over "
        "the entries the caller may see.",
        response=_json(
            [{"key": _DS, "runs": 37, "denials": 4, "rows_released": 912, "privacy_spent": 1.4}]
        ),
    ),
    "GET /v1/audit/export": OperationDoc(
        "Export entries (JSON lines or CSV) with inclusion proofs to a fresh signed "
        "checkpoint, for offline verification with `cdg audit verify --offline`. The "
        "filters are those of `/v1/audit/entries`.",
        response={
            "application/x-ndjson": '{"index":411,"entry":{"event":"query.run"},"proof":[]}\n',
            "text/csv": "index,recorded_at,event,app,dataset,outcome\n"
            f"411,{_T2},query.run,heping-committee,{_DS},ok\n",
        },
    ),
    # -- residents ---------------------------------------------------------------------------
    "POST /v1/subjects/lookup": OperationDoc(
        "A resident's SubjectRef (the keyed pseudonym the log uses) from their ID number, so "
        "their access history can be read. Departments and auditors; the lookup is logged "
        "without the ID number.",
        request={"id_number": "110105194506304847"},
        response=_json({"subject_ref": "s_4ny5v24wmyege2zgbykci2x4iq"}),
    ),
    "GET /v1/subjects/{subject_ref}/accesses": OperationDoc(
        "Who received rows about a resident: each release's app, purpose, legal basis, "
        "dataset, stated justification and the columns with their treatments, oldest first.",
        response=_json(
            [
                {
                    "index": 11,
                    "time": "2026-11-27T21:38:56.040730+00:00",
                    "app": "heping-committee",
                    "purpose": _PURPOSE,
                    "legal_basis": _LEGAL,
                    "dataset": _DS,
                    "dataset_name": "residents",
                    "justification": _JUSTIFICATION,
                    "justification_matches_log": True,
                    "columns": [
                        {"name": "name", "treatment": "mask"},
                        {"name": "age", "treatment": "keep"},
                    ],
                }
            ]
        ),
    ),
    "GET /v1/subjects/links": OperationDoc(
        "One-time links the caller issued for residents to see their own access history, "
        "with their state (unused, opened, expired, revoked).",
        response=_json(
            [
                {
                    "id": "rl_8e2d4c6a1b3f",
                    "issued_by": "civil-affairs",
                    "created_at": _T,
                    "expires_at": _T2,
                    "state": "unused",
                    "opened_at": None,
                }
            ]
        ),
    ),
    "POST /v1/subjects/links": OperationDoc(
        "Issue a one-time link with which a resident sees who received data about them. The "
        "link (and its token) is shown once; hand it to the resident.",
        request={"id_number": "110105194506304847", "expires_in_hours": 72},
        response=_json(
            {
                "id": "rl_8e2d4c6a1b3f",
                "url": "/residents/links/Yk3xQ9d2Lr7WmB5vN8cT1aZ4",
                "token": "Yk3xQ9d2Lr7WmB5vN8cT1aZ4",
                "expires_at": _T2,
            }
        ),
    ),
    "POST /v1/subjects/links/{link_id}/revoke": OperationDoc(
        "Revoke a resident link before it is used up.",
        response=_json(
            {
                "id": "rl_8e2d4c6a1b3f",
                "issued_by": "civil-affairs",
                "created_at": _T,
                "expires_at": _T2,
                "state": "revoked",
                "opened_at": None,
            }
        ),
    ),
    # -- public and operations -----------------------------------------------------------
    "GET /.well-known/cdg-audit-keys": OperationDoc(
        "The log's origin and its checkpoint verifier keys, one per line (no key needed), "
        "for witnesses and `cdg audit verify`.",
        response={"text/plain": f"community-data-gateway.example/log\n{_VERIFIER}\n"},
    ),
    "GET /healthz": OperationDoc(
        "Liveness: the process answers and the gateway's store answers `SELECT 1`. Sources "
        "are not checked. No key needed.",
        response=_json({"status": "ok"}),
    ),
    "GET /metrics": OperationDoc(
        "Prometheus metrics (text format), one set for all worker processes: requests and "
        "latency by route template, runs, denials, budget spent, audit appends and source "
        "errors. No key needed.",
        response={
            "text/plain": 'cdg_info{version="0.1.0"} 1\n'
            "# HELP cdg_http_requests_total HTTP requests by route template and status.\n"
            "# TYPE cdg_http_requests_total counter\n"
            'cdg_http_requests_total{method="GET",route="/v1/budgets",status="200"} 3.0\n'
        },
    ),
}
