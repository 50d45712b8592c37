"""Demo sources: directories the gateway makes are private; an existing one keeps its mode."""

from __future__ import annotations

import stat
from pathlib import Path

from gateway.demo.seed import ensure_sources
from gateway.settings import load_settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_shared_source_directory_is_not_narrowed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"  # like the system's temporary directory in the tests
    shared.mkdir()
    shared.chmod(0o1777)
    home = tmp_path / "home"
    settings = load_settings(environ={}, home=home, source_dirs=f"civil-affairs={shared}")
    urls = ensure_sources(settings, residents=50, seed=1)
    assert _mode(shared) == 0o1777  # MariaDB, among others, still writes its temporary files
    made = {Path(url.removeprefix("sqlite:///")).parent for url in urls.values()} - {shared}
    assert made and all(_mode(d) == 0o700 for d in made)
    assert all(_mode(Path(url.removeprefix("sqlite:///"))) == 0o600 for url in urls.values())
