"""Independent verification of RFC 6962 inclusion and consistency proofs.

This module deliberately shares no code with ``audit.tree`` beyond the two
hash functions: a verifier that reused the prover's logic would repeat its
bugs instead of catching them. The algorithms are RFC 9162 §2.1.3.2
(inclusion) and §2.1.4.2 (consistency), step by step.

Verification never raises on a bad proof; it answers ``False``. Inputs of
the wrong shape (hashes that are not 32 bytes, negative sizes) also answer
``False``, because to a verifier they are simply proofs that do not check out.
"""

from __future__ import annotations

from collections.abc import Sequence

from audit.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = ["root_from_leaves", "verify_consistency", "verify_inclusion"]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check that ``leaf`` (a leaf hash) is entry ``index`` of the tree ``root`` of ``size``."""
    if not (_is_hash(leaf) and _is_hash(root) and all(_is_hash(p) for p in proof)):
        return False
    # Step 1: the index must lie inside the tree.
    if not 0 <= index < size:
        return False
    # Steps 2-3: fn walks the leaf's position up the tree, sn the last leaf's.
    fn, sn = index, size - 1
    r = leaf
    # Step 4.
    for p in proof:
        if sn == 0:  # 4a: more proof than tree.
            return False
        if fn & 1 or fn == sn:  # 4b: p is a left sibling.
            r = node_hash(p, r)
            # On the right edge, skip levels where the node has no sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:  # p is a right sibling.
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    # Step 5: the whole proof was used to reach the root, and it matches.
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree ``new_root`` of ``new_size`` extends ``old_root`` of ``old_size``.

    Edge cases the RFC leaves to the caller: equal sizes need equal roots and
    an empty proof; an empty old tree must have the empty root (stricter than
    some verifiers, which accept any old root at size 0) and an empty proof.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and all(_is_hash(p) for p in proof)):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    # Step 1.
    if not proof:
        return False
    path = list(proof)
    # Step 2: when the old tree is a perfect subtree, the prover leaves its
    # root out of the proof because the verifier already holds it.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4: climb while the old tree's last node is a right child: its
    # parent still lies wholly inside the old tree, and path[0] stands for it.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5: fr rebuilds the old root, sr the new one.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:  # 6a
            return False
        if fn & 1 or fn == sn:  # 6b: c is a left sibling, in both trees.
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:  # c lies beyond the old tree: only the new root uses it.
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    # Step 7.
    return fr == old_root and sr == new_root and sn == 0


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH(D[n]) by the RFC 6962 §2.1 recursion, straight from the leaves.

    O(n) hashing: for verifiers that rebuild a whole log, and for tests.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    # Index bounds instead of slices: slicing would copy O(n log n) hashes.
    n = hi - lo
    if n == 1:
        return leaves[lo]
    k = 1 << ((n - 1).bit_length() - 1)  # largest power of two below n
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def _is_hash(value: bytes) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE
