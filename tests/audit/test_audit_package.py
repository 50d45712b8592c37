"""The audit package's contract: a typed library that never imports the gateway."""

from __future__ import annotations

from pathlib import Path

import audit

PACKAGE_DIR = Path(audit.__file__).parent


def test_public_names_resolve() -> None:
    for name in audit.__all__:
        assert getattr(audit, name) is not None, name
    assert sorted(audit.__all__) == sorted(set(audit.__all__))


def test_typed_marker_is_shipped() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_every_error_is_an_audit_error() -> None:
    for error in (audit.ProofError, audit.StoreError, audit.CheckpointError):
        assert issubclass(error, audit.AuditError)
