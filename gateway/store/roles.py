"""The PostgreSQL grants for the gateway's role (see deploy/postgres-roles.sql).

Working tables: full access. Log tables: INSERT and SELECT only; the sequencer
row may be updated (it orders appenders) but not deleted.
"""

from __future__ import annotations

WORKING_TABLES = (
    "principals",
    "api_keys",
    "sources",
    "source_identities",
    "datasets",
    "policy_versions",
    "query_requests",
    "budget_spends",
    "budget_datasets",
    "dp_releases",
    "dp_release_claims",
    "casbin_rules",
    "policy_epoch",
    "daily_runs",
)
LOG_TABLES = ("audit_entries", "audit_nodes", "audit_checkpoints", "audit_subjects")


def gateway_grants(role: str) -> list[str]:
    if not role.replace("_", "").isalnum():
        raise ValueError("role must be an identifier")
    return [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(WORKING_TABLES)} TO {role}",
        f"GRANT SELECT, INSERT ON {', '.join(LOG_TABLES)} TO {role}",
        f"GRANT SELECT, UPDATE ON audit_sequencer TO {role}",
        f"GRANT SELECT ON alembic_version TO {role}",
    ]
