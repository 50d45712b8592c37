"""docs/cli.md is generated from the typer app, and every API operation has a command."""

from __future__ import annotations

from pathlib import Path

from gateway.cli.reference import API_COMMANDS, command_paths, reference
from tests.conftest import Gateway

ROOT = Path(__file__).resolve().parents[3]
METHODS = {"get", "post", "put", "patch", "delete"}


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == reference(), (
        "docs/cli.md is stale: python -m gateway.cli.reference > docs/cli.md"
    )


def test_every_api_operation_has_a_command(gateway: Gateway) -> None:
    spec = gateway.client.get("/openapi.json").json()
    operations = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    missing = sorted(operations - set(API_COMMANDS))
    assert not missing, (
        f"API operations without a CLI command: {missing}; add the command and its row to "
        "API_COMMANDS in gateway/cli/reference.py"
    )
    assert not sorted(set(API_COMMANDS) - operations), "API_COMMANDS names a gone operation"


def test_every_command_named_for_an_operation_exists() -> None:
    commands = command_paths()
    for operation, line in API_COMMANDS.items():
        if line is None:
            continue
        command = line.split(" --")[0]
        assert command in commands, (operation, command)


def test_the_page_lists_every_command() -> None:
    page = reference()
    for command in command_paths():
        assert f"### {command}\n" in page
    assert len(command_paths()) > 60
