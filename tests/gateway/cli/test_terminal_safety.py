"""Values from a department's database reach the operator's terminal as text: control
characters are shown as escapes and rich markup in a value is printed, not applied."""

from __future__ import annotations

from rich.console import Console

from gateway.cli.common import rows_view, table

HOSTILE = "\x1b]0;pwned\x07\x1b[31mRED\x1b[2J\rover\u202eevil\x9b[1m [bold]x[/bold] [link=http://e.x]y"


def rendered(renderable: object, width: int = 200) -> str:
    console = Console(width=width, record=True, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return console.export_text(styles=True)


def test_a_table_writes_no_control_character_and_applies_no_markup() -> None:
    rows = [{"name": HOSTILE, "[red]col": "ok\nsecond line"}]
    for view in (table(rows), rows_view(rows), rows_view(rows * 3, ["name", "[red]col"])):
        out = rendered(view)
        assert "\x1b]" not in out and "\x07" not in out and "\r" not in out
        assert "\u202e" not in out and "\x9b" not in out
        assert "\\x1b]0;pwned\\x07" in out and "\\x0dover" in out and "\\u202eevil" in out
        assert "[bold]x[/bold]" in out and "[link=http://e.x]y" in out  # printed as written
        assert "[red]col" in out  # a column name is text too
        assert "second line" in out  # a newline in a value still breaks the line


def test_a_narrow_terminal_gets_the_same_escaping() -> None:
    out = rendered(rows_view([{"a": HOSTILE, "b": "x" * 300}]), width=40)
    assert "\x1b]" not in out and "\\x1b" in out
