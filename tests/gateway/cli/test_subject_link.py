"""``cdg subject link``: a department issues a resident a link from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli.app import cli
from gateway.oversight import resident_links
from gateway.principal import AuthPrincipal
from tests.conftest import make_settings, open_gateway

runner = CliRunner()
RESIDENT = "11010519491231002X"
CIVIL_AFFAIRS = AuthPrincipal("x", "civil-affairs", "department", "department", "civil-affairs")


def test_a_department_issues_a_link_that_opens_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gw = open_gateway(make_settings(home))
    env = {"CDG_HOME": str(home), "CDG_PUBLIC_URL": "https://gw.example.cn"}
    try:
        r = runner.invoke(
            cli,
            ["subject", "link", "--department", "civil-affairs", "--hours", "2", "--json"],
            input=RESIDENT + "\n",  # from the prompt: the number stays out of the shell history
            env=env,
        )
        assert r.exit_code == 0, r.output
        out = json.loads(r.stdout[r.stdout.index("{") :])
        assert out["url"] == f"https://gw.example.cn/console/resident/open/{out['token']}"
        assert RESIDENT not in r.output  # the prompt hides what is typed
        with gw.ctx.store.transaction() as session:
            opened = resident_links.open_link(session, gw.ctx, out["token"], "t")
        assert opened.session_token is not None
        entries = gw.get(
            "district-auditor", "/v1/audit/entries", params={"event": "subject.link_issued"}
        )
        assert [e["entry"]["link"] for e in entries.json()] == [out["id"]]
        assert entries.json()[0]["entry"]["principal"] == "civil-affairs"

        plain = runner.invoke(
            cli,
            ["subject", "link", "--department", "civil-affairs", "--id-number", RESIDENT],
            env=env,
        )
        assert plain.exit_code == 0, plain.output
        assert plain.stdout.startswith("https://gw.example.cn/console/resident/open/")
    finally:
        gw.client.close()
        gw.ctx.close()


def test_refusals_are_clear_and_do_not_echo_the_number(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gw = open_gateway(make_settings(home))
    env = {"CDG_HOME": str(home)}
    try:
        bad = "110105194912310021"
        r = runner.invoke(
            cli, ["subject", "link", "--department", "civil-affairs", "--id-number", bad], env=env
        )
        assert r.exit_code == 1 and bad not in r.output and "not a valid" in r.output
        r = runner.invoke(
            cli,
            ["subject", "link", "--department", "heping-committee", "--id-number", RESIDENT],
            env=env,
        )
        assert r.exit_code == 1 and "部门" in r.output  # only a department may issue one
        r = runner.invoke(
            cli, ["subject", "link", "--department", "nobody", "--id-number", RESIDENT], env=env
        )
        assert r.exit_code == 1 and "no such department" in r.output
        with gw.ctx.store.transaction() as session:
            assert resident_links.list_links(session, CIVIL_AFFAIRS) == []
    finally:
        gw.client.close()
        gw.ctx.close()
