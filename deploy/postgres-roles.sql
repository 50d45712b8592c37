-- Roles for a PostgreSQL gateway store (docs/audit.md).
-- Run as a superuser once; migrations run as cdg_owner (`cdg init` with its URL),
-- the gateways connect as cdg_gateway. Replace the passwords.
--
-- cdg_owner owns every table and the guard triggers; nobody logs in as it in normal operation.
-- cdg_gateway may read and write the working tables, but may only INSERT into and SELECT from
-- the log tables; the one row it updates is the sequencer, which orders appenders.
-- The owner or a superuser can still disable triggers: guards resist, proofs detect.

CREATE ROLE cdg_owner LOGIN PASSWORD 'change-me-owner';
CREATE ROLE cdg_gateway LOGIN PASSWORD 'change-me-gateway';
GRANT CONNECT ON DATABASE gateway TO cdg_owner, cdg_gateway;
CREATE SCHEMA IF NOT EXISTS cdg AUTHORIZATION cdg_owner;
ALTER ROLE cdg_owner SET search_path = cdg;
ALTER ROLE cdg_gateway SET search_path = cdg;
GRANT USAGE ON SCHEMA cdg TO cdg_gateway;

-- After `cdg init` has created the tables as cdg_owner, apply what
-- `cdg store grants cdg_gateway` prints (shown here):
-- GRANT SELECT, INSERT, UPDATE, DELETE ON
--     principals, api_keys, sources, datasets, policy_versions, query_requests,
--     budget_spends, budget_datasets, dp_releases, dp_release_claims, casbin_rules,
--     policy_epoch, daily_runs
--     TO cdg_gateway;
-- GRANT SELECT, INSERT ON audit_entries, audit_nodes, audit_checkpoints, audit_subjects
--     TO cdg_gateway;
-- GRANT SELECT, UPDATE ON audit_sequencer TO cdg_gateway;
-- GRANT SELECT ON alembic_version TO cdg_gateway;
