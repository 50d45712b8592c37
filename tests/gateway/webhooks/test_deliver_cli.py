"""`cdg webhooks deliver --once`: an operator drains the outbox from another process."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli.webhooks import app
from tests.conftest import make_settings, open_gateway
from tests.gateway.budget.test_budgets import PURPOSE, SUM_BY_GROUP, dp_policy, setup, visits
from tests.gateway.webhooks.receiver import receiver
from tests.gateway.webhooks.test_webhooks import FAST, register, verified

__all__ = ["visits"]


def test_deliver_once_sends_what_is_due_and_reports_what_waits(tmp_path: Path, visits: str) -> None:
    home = tmp_path / "home"
    gw = open_gateway(make_settings(home, **FAST))
    env = {"CDG_HOME": str(home), **{f"CDG_{k.upper()}": str(v) for k, v in FAST.items()}}
    try:
        dataset = setup(gw, visits, dp_policy())
        with receiver(fail_first=1) as rx:
            hook = register(gw, "civil-affairs", rx.url)
            gw.approved_query("heping-committee", dataset, PURPOSE, SUM_BY_GROUP)
            first = CliRunner().invoke(app, ["deliver", "--once", "--json"], env=env)
            assert first.exit_code == 0, first.output
            assert json.loads(first.stdout) == {"attempted": 1, "pending": 1}  # waits to retry
            time.sleep(0.5)  # past the first backoff (0.1-0.2 s)
            second = CliRunner().invoke(app, ["deliver", "--once"], env=env)
            assert second.exit_code == 0, second.output
            assert "attempted 1; 0 message(s) still pending" in second.stdout
        assert [g.answered for g in rx.got] == [500, 204]
        assert verified(hook["secret"], rx.got[1])["type"] == "request.filed"
    finally:
        gw.client.close()
        gw.ctx.close()
