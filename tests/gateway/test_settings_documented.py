"""docs/settings.md documents every setting, and only settings that exist.

Each field of ``gateway.settings.Settings`` must have a table row whose first
cell is the variable name in backticks, e.g. ``| `CDG_MAX_ROWS` | `10000` | ... |``,
and whose second cell shows the default (``*(none)*`` when the default is None or "").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
ROW = re.compile(r"^\|\s*`(CDG_[A-Z0-9_]+)`\s*\|\s*([^|]*?)\s*\|")
MENTION = re.compile(r"\bCDG_[A-Z][A-Z0-9_]*\b")
NONE = "*(none)*"


def documented_rows() -> dict[str, str]:
    """Variable name -> its default cell, for every table row naming a CDG_ variable."""
    rows: dict[str, str] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line.strip())
        if match:
            name, default = match.groups()
            assert name not in rows, f"{name} has two rows in {DOC.name}"
            rows[name] = default
    return rows


def expected_variables() -> dict[str, str]:
    """Variable name -> the default cell the docs should show, from Settings itself."""
    out: dict[str, str] = {}
    for field, info in Settings.model_fields.items():
        default = info.default
        unset = default is None or default == ""
        out[f"CDG_{field.upper()}"] = NONE if unset else f"`{default}`"
    return out


def test_the_settings_page_exists() -> None:
    assert DOC.is_file(), f"{DOC} is missing"
    assert documented_rows(), f"no `CDG_...` table rows found in {DOC}"


def test_every_setting_has_a_row() -> None:
    missing = sorted(set(expected_variables()) - set(documented_rows()))
    assert not missing, f"settings without a row in docs/settings.md: {missing}"


def test_every_row_is_a_setting() -> None:
    stale = sorted(set(documented_rows()) - set(expected_variables()))
    assert not stale, f"docs/settings.md documents variables that no longer exist: {stale}"


def test_no_stale_variable_mentioned_anywhere() -> None:
    mentioned = set(MENTION.findall(DOC.read_text(encoding="utf-8")))
    stale = sorted(mentioned - set(expected_variables()))
    assert not stale, f"docs/settings.md mentions variables that do not exist: {stale}"


@pytest.mark.parametrize("variable", sorted(expected_variables()))
def test_documented_default_matches_the_code(variable: str) -> None:
    rows = documented_rows()
    if variable not in rows:
        pytest.skip("reported by test_every_setting_has_a_row")
    assert rows[variable] == expected_variables()[variable], (
        f"{variable}: docs/settings.md shows default {rows[variable]!r}, "
        f"the code has {expected_variables()[variable]!r}"
    )
