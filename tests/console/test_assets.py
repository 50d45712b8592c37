"""The console's assets ship inside the package: vendored htmx (with its licence), the sheet."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

from tests.conftest import Gateway

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "console" / "static"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"  # 2.0.11


def test_vendored_htmx_is_the_released_file_with_its_licence() -> None:
    assert hashlib.sha256((STATIC / "htmx.min.js").read_bytes()).hexdigest() == HTMX_SHA256
    assert (
        "0BSD" in (STATIC / "VENDORED.txt").read_text()
        or "Zero-Clause" in (STATIC / "htmx.LICENSE.txt").read_text()
    )
    assert "Permission to use, copy, modify" in (STATIC / "htmx.LICENSE.txt").read_text()


def test_assets_are_served_from_the_package(gateway: Gateway) -> None:
    js = gateway.client.get("/console/static/htmx.min.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    css = gateway.client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert gateway.client.get("/console/static/../templates/base.html").status_code == 404


def test_templates_reference_only_local_assets() -> None:
    templates = STATIC.parent / "templates"
    for page in templates.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']https?://""", text), page.name
        assert "<script>" not in text and " style=" not in text, page.name


def test_wheel_package_data_holds_templates_static_and_catalogues() -> None:
    pyproject = tomllib.loads((STATIC.parents[2] / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]
    assert "static/*" in data["gateway.console"] and "templates/*.html" in data["gateway.console"]
    assert "locales/*/LC_MESSAGES/*.po" in data["gateway.i18n"]
    deps = " ".join(pyproject["project"]["dependencies"])
    assert "jinja2" in deps and "babel" in deps


def test_every_asset_template_and_catalogue_is_package_data() -> None:
    """What a wheel ships is what pyproject's package-data globs match (checked against a
    built wheel by hand: `pip wheel .` lists every file below)."""
    pyproject = tomllib.loads((STATIC.parents[2] / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]
    for package, folders in (
        ("gateway.console", ("static", "templates")),
        ("gateway.i18n", ("locales",)),
    ):
        root = STATIC.parents[1] / package.split(".")[1]
        matched = {p for pattern in data[package] for p in root.glob(pattern) if p.is_file()}
        files = {
            p
            for folder in folders
            for p in (root / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert files and files <= matched, sorted(str(p) for p in files - matched)
