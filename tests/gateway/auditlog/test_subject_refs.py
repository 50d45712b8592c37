"""Subject refs: keyed, stable, and the same whether remembered or computed afresh."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.auditlog import subjects
from gateway.auditlog.subjects import SUBJECT_REF, SubjectRefs
from gateway.keys import KeyRing


def _ring(master: bytes) -> KeyRing:
    return KeyRing({1: master}, {1: Ed25519PrivateKey.generate()})


def test_remembered_refs_equal_fresh_ones_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    master = secrets.token_bytes(32)
    refs = SubjectRefs(_ring(master))
    monkeypatch.setattr(subjects, "_REMEMBERED", 7)  # a small limit, crossed below
    ids = [f"11010119400101{n:04d}" for n in range(20)]
    first = [refs.ref(i) for i in ids]
    again = [refs.ref(i) for i in ids]  # partly remembered, partly keyed again
    fresh = SubjectRefs(_ring(master))
    assert first == again == [fresh.ref(i) for i in ids]
    assert len(set(first)) == len(ids) and all(SUBJECT_REF.fullmatch(r) for r in first)
    # Normalised like every identifier: a lower-case check letter is the same resident.
    assert refs.ref("11010119400101123x") == fresh.ref("11010119400101123X")
    # Another key, other refs: a ref is useless without the log's key.
    assert SubjectRefs(_ring(secrets.token_bytes(32))).ref(ids[0]) != first[0]
