"""Exceptions raised by the audit library.

Every error the library raises on purpose derives from ``AuditError``, so a
caller (the gateway, the offline verifier, the CLI) can catch one type::

    AuditError
     ├── ProofError        a root or proof was asked for an index or size the
     │                     tree does not have (also a ValueError: it is bad input)
     ├── StoreError        the node store lacks a node the tree needs, or was asked
     │                     to overwrite one: the store is truncated or tampered
     └── CheckpointError   a signed checkpoint or verifier key is malformed, carries
                           no signature from a trusted key, or a trusted key's
                           signature does not verify (forged or altered note)

Proof *verification* does not raise: ``verify_inclusion`` and
``verify_consistency`` answer ``False`` for any proof that does not check out,
because "this proof is wrong" is an expected answer, not an exceptional one.

Messages name sizes, indices and key names only, never entry contents, so
they are safe to log and to show to auditors.
"""

from __future__ import annotations

__all__ = ["AuditError", "CheckpointError", "ProofError", "StoreError"]


class AuditError(Exception):
    """Base class of every error raised by the ``audit`` package."""


class ProofError(AuditError, ValueError):
    """A root or proof was requested for an index or size outside the tree."""


class StoreError(AuditError):
    """The node store is missing a node it must hold, or refused an overwrite."""


class CheckpointError(AuditError):
    """A signed checkpoint or verifier key is malformed, untrusted or forged."""
