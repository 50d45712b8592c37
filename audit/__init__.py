"""The append-only audit log's cryptographic core.

A pure library (it imports nothing from ``gateway``):

* ``canonical_json`` turns an audit entry into the exact bytes that are hashed;
* ``leaf_hash`` / ``node_hash`` are the RFC 6962 hashes;
* ``MerkleTree`` keeps an RFC 6962 tree in any ``NodeStore`` and produces
  roots, inclusion proofs and consistency proofs for any past size;
* ``verify_inclusion`` / ``verify_consistency`` check proofs independently;
* ``CheckpointSigner`` / ``open_checkpoint`` sign and verify C2SP checkpoints.
"""

from audit.accumulator import RootAccumulator
from audit.canonical import canonical_json
from audit.checkpoints import (
    Checkpoint,
    CheckpointSigner,
    open_checkpoint,
    parse_verifier_key,
    verifier_key,
)
from audit.errors import AuditError, CheckpointError, ProofError, StoreError
from audit.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from audit.proofs import root_from_leaves, verify_consistency, verify_inclusion
from audit.tree import MemoryNodeStore, MerkleTree, NodeStore

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "AuditError",
    "Checkpoint",
    "CheckpointError",
    "CheckpointSigner",
    "MemoryNodeStore",
    "MerkleTree",
    "NodeStore",
    "ProofError",
    "RootAccumulator",
    "StoreError",
    "canonical_json",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "parse_verifier_key",
    "root_from_leaves",
    "verifier_key",
    "verify_consistency",
    "verify_inclusion",
]
