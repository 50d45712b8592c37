"""Bad files, folders and homes: a clear message and exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from typer.testing import CliRunner

import gateway
from gateway.cli.app import cli
from gateway.cli.text import DOMAIN
from gateway.i18n import catalogue_path

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[3]


def cdg(home: Path, *args: str, **env: str) -> Any:
    return runner.invoke(cli, list(args), env={"CDG_HOME": str(home), "LANG": "C.UTF-8", **env})


def assert_usage_error(result: Any, *words: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, (word, result.stderr)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "home"
    assert runner.invoke(cli, ["init"], env={"CDG_HOME": str(path)}).exit_code == 0
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "missing": tmp_path / "missing.yaml",
        "yaml": tmp_path / "bad.yaml",
        "json": tmp_path / "bad.json",
        "binary": tmp_path / "latin1.yaml",
        "folder": tmp_path / "folder.yaml",
    }
    out["yaml"].write_text("name: x\ncolumns: [\n", encoding="utf-8")
    out["json"].write_text('{"name": "x",, }', encoding="utf-8")
    out["binary"].write_bytes("name: 居民".encode("gb18030"))
    out["folder"].mkdir()
    return out


def test_version() -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"cdg {gateway.__version__}"


BAD_FILES = [
    ("missing", ["no such file"]),
    ("yaml", ["bad.yaml:3", "invalid YAML/JSON"]),
    ("json", ["bad.json:1", "invalid YAML/JSON"]),
    ("binary", ["not UTF-8"]),
    ("folder", ["is a folder"]),
]
DOCUMENT_COMMANDS = [
    ["dataset", "register", "{}", "--department", "civil-affairs"],
    ["dataset", "register", "{}", "--key", "k"],
    ["policy", "replace", "{}", "--dataset", "d", "--key", "k"],
    ["request", "file", "{}", "--dataset", "d", "--purpose", "p", "--justification", "j",
     "--key", "k"],
    ["query", "run", "q", "--params", "{}", "--key", "k"],
    ["decision", "explain", "{}", "--dataset", "d", "--purpose", "p", "--key", "k"],
]  # fmt: skip
# pii scan reads JSON Lines and answers each unreadable line in its output: only the file
# itself can be bad.
CASES = [(kind, words, command) for kind, words in BAD_FILES for command in DOCUMENT_COMMANDS]
CASES += [(kind, words, ["pii", "scan", "{}"]) for kind, words in BAD_FILES
          if kind not in ("yaml", "json")]  # fmt: skip


@pytest.mark.parametrize(("kind", "words", "command"), CASES)
def test_bad_files_exit_2(
    home: Path, files: dict[str, Path], kind: str, words: list[str], command: list[str]
) -> None:
    path = str(files[kind])
    args = [path if a == "{}" else a for a in command]
    assert_usage_error(cdg(home, *args), *words)


def test_a_dataset_document_that_does_not_match_the_schema(home: Path, tmp_path: Path) -> None:
    doc = tmp_path / "dataset.yaml"
    doc.write_text("name: residents\nsource: s\n", encoding="utf-8")
    result = cdg(home, "dataset", "register", str(doc), "--department", "civil-affairs")
    assert_usage_error(result, "dataset.yaml", "table: Field required")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_into_a_missing_folder(home: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "no" / "such" / "folder" / "log.jsonl"
    result = cdg(home, "audit", "export", "--out", str(out), "--format", fmt)
    assert_usage_error(result, "does not exist")
    assert not (tmp_path / "no").exists()
    into_folder = cdg(home, "audit", "export", "--out", str(tmp_path))
    assert_usage_error(into_folder, "is a folder")


def test_query_run_out_into_a_missing_folder(tmp_path: Path) -> None:
    result = cdg(tmp_path, "query", "run", "q", "--out", str(tmp_path / "x" / "r.json"),
                 "--key", "k")  # fmt: skip
    assert_usage_error(result, "does not exist")


def test_bad_filters_and_options_exit_2(home: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "e.jsonl")
    assert_usage_error(cdg(home, "audit", "export", "--out", out, "--since", "yesterday"),
                       "--since")  # fmt: skip
    assert_usage_error(cdg(home, "audit", "export", "--out", out, "--since", "2026-01-01T00:00"),
                       "zone")  # fmt: skip
    assert_usage_error(cdg(home, "audit", "export", "--out", out, "--decision", "maybe"),
                       "--decision")  # fmt: skip
    assert_usage_error(cdg(home, "request", "approve", "q", "--expires-at", "2030-01-01",
                           "--key", "k"), "zone")  # fmt: skip
    assert_usage_error(cdg(home, "query", "run", "q", "-p", "nonsense", "--key", "k"), "NAME=VALUE")


@pytest.mark.parametrize(
    "command",
    [
        ["principal", "list"],
        ["principal", "add", "x", "--kind", "app", "--domain", "d", "--role", "r"],
        ["dataset", "list"],
        ["dataset", "scan", "residents"],
        ["keys", "rotate"],
        ["keys", "list"],
        ["audit", "verify"],
        ["audit", "checkpoint"],
        ["audit", "repair"],
        ["audit", "export", "--out", "{tmp}/e.jsonl"],
        ["serve"],
    ],
)
def test_no_home_is_created_outside_init_and_demo(tmp_path: Path, command: list[str]) -> None:
    wrong = tmp_path / "typo" / "home"
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = cdg(wrong, *args)
    assert_usage_error(result, "no gateway home", "cdg init", "CDG_HOME")
    assert str(wrong) in result.stderr.replace("\n", "")
    assert not wrong.exists() and not (tmp_path / "typo").exists()


def test_a_file_where_the_home_should_be(tmp_path: Path) -> None:
    not_a_home = tmp_path / "home"
    not_a_home.write_text("", encoding="utf-8")
    assert_usage_error(cdg(not_a_home, "principal", "list"), "no gateway home")


def test_the_default_home_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["principal", "list"], env={"CDG_HOME": None, "LANG": "C"})
    assert_usage_error(result, "the default, .cdg")
    assert str(tmp_path / ".cdg") in result.stderr.replace("\n", "")
    assert not (tmp_path / ".cdg").exists()


def test_init_and_demo_still_create_a_home(tmp_path: Path) -> None:
    assert cdg(tmp_path / "a", "init", "--json").exit_code == 0
    assert (tmp_path / "a" / "config").is_file()
    assert cdg(tmp_path / "a", "principal", "list", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize(
    "env",
    [{"LANG": "zh_CN.UTF-8"}, {"LC_ALL": "zh_TW.UTF-8"}, {"LANGUAGE": "zh_CN:en", "LANG": "C"}],
)
def test_messages_in_chinese_under_a_chinese_locale(tmp_path: Path, env: dict[str, str]) -> None:
    result = runner.invoke(
        cli, ["principal", "list"], env={"CDG_HOME": str(tmp_path / "none"), "LANG": "", **env}
    )
    assert result.exit_code == 2
    assert "没有网关主目录" in result.stderr and "错误" in result.stderr
    missing = runner.invoke(cli, ["request", "list", "--key", ""], env=env)
    assert "没有 API 密钥" in missing.stderr


def test_messages_stay_english_otherwise(tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["principal", "list"], env={"CDG_HOME": str(tmp_path / "x"), "LANG": "en_GB.UTF-8"}
    )
    assert "no gateway home" in result.stderr


def cli_messages() -> list[str]:
    found: list[str] = []
    for _f, _l, message, _c, _x in extract_from_dir(
        str(ROOT / "gateway" / "cli"), [("**.py", "python")], keywords={"_": None}
    ):
        if message not in found:
            found.append(message)
    return found


def test_every_cli_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    import re

    with catalogue_path("zh_CN", DOMAIN).open("rb") as fh:
        catalogue = read_po(fh, locale="zh_CN", domain=DOMAIN)
    messages = cli_messages()
    assert len(messages) > 40
    for message in messages:
        entry = catalogue.get(message)
        assert entry is not None and entry.string, f"untranslated: {message!r}"
        names = sorted(re.findall(r"%\((\w+)\)s", message))
        assert sorted(re.findall(r"%\((\w+)\)s", str(entry.string))) == names, message
    assert json.dumps(sorted(messages))  # every id is plain text


def test_a_gateway_that_does_not_answer_is_named(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = runner.invoke(cli, ["request", "list", "--url", url, "--key", "k"], env={"LANG": "C"})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"cannot connect to {url}" in result.stderr and "--url" in result.stderr
