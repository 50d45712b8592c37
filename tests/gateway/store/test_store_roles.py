"""The documented PostgreSQL role set-up: the gateway's role can only append to the log."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from audit import CheckpointSigner
from gateway.auditlog.entry_macs import EntryMacs
from gateway.auditlog.writer import Appender, Pending
from gateway.keys import load_keyring
from gateway.store.roles import gateway_grants
from tests.conftest import make_settings, postgres_base


@pytest.mark.postgres
def test_gateway_role_appends_but_cannot_rewrite_the_log(pg_url: str, tmp_path: object) -> None:
    from pathlib import Path

    settings = make_settings(Path(str(tmp_path)) / "home", pg_url)  # migrations as the owner
    role = f"cdg_gw_{secrets.token_hex(4)}"
    schema = make_url(pg_url).query["options"].split("=", 1)[1]
    admin = sa.create_engine(postgres_base(), poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
    owner = sa.create_engine(pg_url, poolclass=sa.NullPool)
    with owner.begin() as conn:
        for statement in gateway_grants(role):
            conn.execute(sa.text(statement))
    as_gateway = sa.create_engine(make_url(pg_url).set(username=role), poolclass=sa.NullPool)
    try:
        keyring = load_keyring(settings)
        signer = CheckpointSigner(settings.log_origin, keyring.signer)
        with sa.orm.Session(as_gateway) as session, session.begin():
            receipts = Appender(settings, signer, EntryMacs(keyring)).append(
                session, [Pending(entry={"event": "t", "principal": "p"}) for _ in range(3)]
            )
        assert [r.entry_index for r in receipts] == [0, 1, 2]
        for statement in (
            "UPDATE audit_entries SET entry = 'x'",
            "DELETE FROM audit_nodes",
            "TRUNCATE audit_entries",
            "DELETE FROM audit_sequencer",
            "SET session_replication_role = replica",
            "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        ):
            with (
                pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"),
                as_gateway.begin() as conn,
            ):
                conn.execute(sa.text(statement))
        with as_gateway.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM audit_entries")).scalar_one() == 3
    finally:
        as_gateway.dispose()
        owner.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))
        admin.dispose()
