"""An append-only RFC 6962 Merkle tree over a pluggable node store.

The store keeps the hash of every *perfect* subtree: node ``(level, index)``
covers leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 holds
the leaf hashes. A perfect subtree never changes once its last leaf is
appended, so nodes are written once and never updated, which suits an
append-only table guarded against UPDATE and DELETE.

Any range the RFC algorithms need, ``MTH(D[lo:hi])``, is a left-to-right run
of O(log n) stored perfect subtrees folded from the right (see
``_decompose``), so roots and proofs for any past size cost O(log n) reads,
issued as one ``get_many`` call: one round trip for a database-backed store.

Concurrency: ``MerkleTree`` holds no state of its own; every call reads the
size from the store. Two writers appending at once would both build on the
same old size, so callers must serialise ``append_many`` (for example with a
row lock or advisory lock in the transaction that also inserts the entries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from audit.errors import ProofError, StoreError
from audit.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["MemoryNodeStore", "MerkleTree", "NodeStore", "proof_nodes"]

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""


class NodeStore(Protocol):
    """Storage of perfect-subtree hashes, addressed by ``(level, index)``."""

    def get(self, level: int, index: int) -> bytes:
        """Return one node hash; raise ``KeyError`` if it is absent."""
        ...

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Return the hashes of the given nodes; absent nodes are left out."""
        ...

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        """Store ``(level, index, hash)`` triples, all or none."""
        ...

    def size(self) -> int:
        """Return the number of leaves (level-0 nodes) stored."""
        ...


class MemoryNodeStore:
    """A dict-backed ``NodeStore`` for tests, tools and the offline verifier.

    It refuses to overwrite a node with a different hash, mirroring the
    append-only guards of the database store.
    """

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}
        self._leaves = 0

    def get(self, level: int, index: int) -> bytes:
        return self._nodes[(level, index)]

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        nodes = self._nodes
        return {key: nodes[key] for key in keys if key in nodes}

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        current = self._nodes
        # Check the whole batch before writing any of it, so a refused batch
        # leaves the store as it was (the "all or none" of the protocol).
        for level, index, digest in nodes:
            old = current.get((level, index))
            if old is not None and old != digest:
                raise StoreError(f"refusing to overwrite node ({level}, {index})")
        for level, index, digest in nodes:
            key = (level, index)
            if level == 0 and key not in current:
                self._leaves += 1
            current[key] = digest

    def size(self) -> int:
        return self._leaves

    def __len__(self) -> int:
        """Number of nodes stored, all levels together (2n - popcount(n) for n leaves)."""
        return len(self._nodes)


class MerkleTree:
    """RFC 6962 tree operations on top of a ``NodeStore``."""

    def __init__(self, store: NodeStore) -> None:
        self._store = store

    def size(self) -> int:
        """Return the number of leaves in the tree."""
        return self._store.size()

    def append_many(self, leaf_hashes: Sequence[bytes]) -> int:
        """Append leaf hashes and store every perfect subtree they complete.

        Returns the new size. Costs one ``get_many`` (the O(log n) pending
        left siblings) and one ``put_many``, whatever the batch length.
        """
        for digest in leaf_hashes:
            if len(digest) != HASH_SIZE:
                raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes, got {len(digest)}")
        size = self._store.size()
        if not leaf_hashes:
            return size
        # frontier[level] is the hash of the pending left node at that level:
        # the perfect subtrees that make up [0, size), one per set bit of size.
        keys = [
            (level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1
        ]
        found = self._fetch(keys, size)
        frontier = {level: found[(level, index)] for level, index in keys}

        new_nodes: list[tuple[int, int, bytes]] = []
        for digest in leaf_hashes:
            level, index, current = 0, size, digest
            new_nodes.append((0, index, current))
            # An odd index is a right child: it completes its parent.
            while index & 1:
                current = node_hash(frontier.pop(level), current)
                level += 1
                index >>= 1
                new_nodes.append((level, index, current))
            frontier[level] = current
            size += 1
        self._store.put_many(new_nodes)
        return size

    def root(self, size: int | None = None) -> bytes:
        """Return MTH of the first ``size`` leaves (default: the whole tree)."""
        tree_size = self._store.size()
        if size is None:
            size = tree_size
        if not 0 <= size <= tree_size:
            raise ProofError(f"no root for size {size}: tree has {tree_size} leaves")
        if size == 0:
            return EMPTY_ROOT
        keys = _decompose(0, size)
        return _fold(keys, self._fetch(keys, tree_size))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """Return PATH(index, D[size]) per RFC 9162 §2.1.3.1, leaf side first."""
        tree_size = self._store.size()
        if not 0 <= index < size <= tree_size:
            raise ProofError(
                f"no inclusion proof for index {index} at size {size}: "
                f"need 0 <= index < size <= {tree_size}"
            )
        return self._hash_ranges(_inclusion_ranges(index, size), tree_size)

    def inclusion_proofs(self, first: int, end: int, size: int) -> list[list[bytes]]:
        """``inclusion_proof(index, size)`` for every index in ``[first, end)``.

        Neighbouring leaves share most of their paths: each subtree hash is folded once
        and the lists share the ``bytes`` objects (a writer's receipts for one batch).
        """
        tree_size = self._store.size()
        if not 0 <= first <= end <= size <= tree_size:
            raise ProofError(
                f"no inclusion proofs for [{first}, {end}) at size {size}: "
                f"need 0 <= first <= end <= size <= {tree_size}"
            )
        per_index = [_inclusion_ranges(index, size) for index in range(first, end)]
        ranges = list(dict.fromkeys(r for path in per_index for r in path))
        hashes = dict(zip(ranges, self._hash_ranges(ranges, tree_size), strict=True))
        return [[hashes[r] for r in path] for path in per_index]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """Return PROOF(old_size, D[new_size]) per RFC 9162 §2.1.4.1.

        The proof is empty when ``old_size`` is 0 or equals ``new_size``:
        there is nothing to prove in either case.
        """
        tree_size = self._store.size()
        if not 0 <= old_size <= new_size <= tree_size:
            raise ProofError(
                f"no consistency proof from size {old_size} to {new_size}: "
                f"need 0 <= old <= new <= {tree_size}"
            )
        if old_size in (0, new_size):
            return []
        return self._hash_ranges(_consistency_ranges(old_size, new_size), tree_size)

    def _hash_ranges(self, ranges: Sequence[tuple[int, int]], tree_size: int) -> list[bytes]:
        """Return MTH(D[lo:hi]) for each range, reading all nodes in one call."""
        per_range = [_decompose(lo, hi) for lo, hi in ranges]
        found = self._fetch([key for keys in per_range for key in keys], tree_size)
        return [_fold(keys, found) for keys in per_range]

    def _fetch(self, keys: Sequence[NodeKey], tree_size: int) -> dict[NodeKey, bytes]:
        if not keys:
            return {}
        found = self._store.get_many(keys)
        for key in keys:
            if key not in found:
                raise StoreError(f"node store at size {tree_size} is missing node {key}")
        return found


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtree ranges whose hashes make PATH(index, D[size]), leaf side first."""
    # Walk from the root towards the leaf, noting the sibling range at each
    # split; the proof lists them from the leaf upwards.
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtree ranges whose hashes make PROOF(old_size, D[new_size]) (0 < old < new)."""
    # SUBPROOF(m, D[lo:hi], b) unrolled; ``known`` is the flag b: the
    # verifier already holds MTH(D[0:old_size]) only while we have not
    # stepped into a right subtree.
    ranges: list[tuple[int, int]] = []
    lo, hi, known = 0, new_size, True
    while old_size != hi:
        k = _split(hi - lo)
        if old_size <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            known = False
    if not known:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def proof_nodes(index: int, size: int, *, consistency: bool = False) -> list[NodeKey]:
    """The stored nodes an inclusion proof of ``index`` in ``size`` leaves reads (or, with
    ``consistency``, a consistency proof from ``index`` leaves to ``size``): a node store
    over a database can fetch them in one query before the proof is made."""
    if consistency:
        ranges = [] if index in (0, size) else _consistency_ranges(index, size)
    else:
        ranges = _inclusion_ranges(index, size) if 0 <= index < size else []
    return [key for lo, hi in ranges for key in _decompose(lo, hi)]


def _split(n: int) -> int:
    """Return the largest power of two strictly below ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _decompose(lo: int, hi: int) -> list[NodeKey]:
    """Return the perfect subtrees that make up ``[lo, hi)``, left to right.

    Valid for the ranges the RFC recursion produces: ``lo`` is a multiple of
    the smallest power of two >= ``hi - lo``, so each set bit of the length
    (largest first) is an aligned perfect subtree, and the RFC's split at the
    largest power of two below the length peels them off in the same order.
    """
    keys: list[NodeKey] = []
    start, length = lo, hi - lo
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def _fold(keys: Sequence[NodeKey], nodes: dict[NodeKey, bytes]) -> bytes:
    """Combine perfect subtrees right to left into MTH of their union."""
    digest = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        digest = node_hash(nodes[key], digest)
    return digest
