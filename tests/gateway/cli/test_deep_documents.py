"""``cdg policy check`` and ``cdg dataset register``-style readers on a document nested
deeper than the YAML loader can take: a one-line message and exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gateway.cli.app import cli

runner = CliRunner()


def test_policy_check_refuses_a_deeply_nested_file_with_exit_2(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    r = runner.invoke(cli, ["policy", "check", str(deep)], env={"CDG_HOME": str(tmp_path / "h")})
    assert r.exit_code == 2, r.output
    assert "nested deeper than 64 levels" in r.output
    assert "Traceback" not in r.output and "RecursionError" not in r.output
    assert len(r.output.splitlines()) <= 3


def test_policy_check_still_reports_a_syntax_error_as_a_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("purposes: [\n", encoding="utf-8")
    r = runner.invoke(cli, ["policy", "check", str(broken)], env={"CDG_HOME": str(tmp_path / "h")})
    assert r.exit_code == 1, r.output
    assert "not valid YAML or JSON" in r.output


def test_dataset_register_refuses_a_deeply_nested_file_before_anything_else(
    tmp_path: Path,
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"name": ' + "[" * 3000 + "]" * 3000 + "}", encoding="utf-8")
    r = runner.invoke(cli, ["dataset", "register", str(deep)], env={"CDG_HOME": str(tmp_path)})
    assert r.exit_code == 2, r.output
    assert f"{deep}:1: invalid YAML/JSON: nested deeper than 64 levels" in r.output
    assert "Traceback" not in r.output
