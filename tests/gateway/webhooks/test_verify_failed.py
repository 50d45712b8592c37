"""`cdg audit verify` finding a damaged log tells every auditor's webhook (counts only)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli.app import cli
from tests.conftest import make_settings, open_gateway
from tests.gateway.webhooks.receiver import receiver
from tests.gateway.webhooks.test_webhooks import FAST, drain, register, verified


def test_a_failed_verify_reaches_the_auditors_and_an_intact_one_sends_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = {"CDG_HOME": str(home), **{f"CDG_{k.upper()}": str(v) for k, v in FAST.items()}}
    gw = open_gateway(make_settings(home, **FAST))
    try:
        with receiver() as auditor_rx, receiver() as app_rx:
            hook = register(gw, "district-auditor", auditor_rx.url)
            register(gw, "heping-committee", app_rx.url)  # not an auditor: hears nothing
            intact = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=env)
            assert intact.exit_code == 0, intact.output
            drain(gw)
            assert auditor_rx.got == []
            db = sqlite3.connect(home / "gateway.db")
            db.execute("DROP TRIGGER audit_entries_no_update")
            db.execute(
                'UPDATE audit_entries SET entry = replace(entry, \'"event":"\', '
                '\'"event":"x\') WHERE "index" = 0'
            )
            db.commit()
            db.close()
            bad = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=env)
            assert bad.exit_code == 1, bad.output
            drain(gw)
        assert len(auditor_rx.got) == 1 and app_rx.got == []
        msg = verified(hook["secret"], auditor_rx.got[0])
        assert msg["type"] == "audit.verify_failed"
        assert msg["data"]["status"] == "failed" and msg["data"]["problems"] >= 1
        assert set(msg["data"]) == {"tree_size", "problems", "status"}
    finally:
        gw.client.close()
        gw.ctx.close()
