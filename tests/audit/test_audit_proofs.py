"""Inclusion and consistency proofs on random trees, against a naive reference.

Three independent parties must agree on every proof: MerkleTree (the
prover), a line-by-line transcription of the RFC 6962 recursion over the raw
leaves (below), and the RFC 9162 verifier in audit.proofs. Roots come from
root_from_leaves, never from the tree under test.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import (
    EMPTY_ROOT,
    MemoryNodeStore,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

SMALL = 70


def _leaves(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(n)]


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) exactly as RFC 6962 §2.1.1 writes it."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), root_from_leaves(d[k:])]
    return [*ref_path(m - k, d[k:]), root_from_leaves(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) exactly as RFC 6962 §2.1.2 writes it."""
    n = len(d)
    if m == n:
        return [] if b else [root_from_leaves(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), root_from_leaves(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), root_from_leaves(d[:k])]


def flip(value: bytes, bit: int) -> bytes:
    """Return ``value`` with one bit inverted."""
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.fixture(scope="module")
def small() -> tuple[list[bytes], MerkleTree, list[bytes]]:
    leaves = _leaves(SMALL, seed=2024)
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(leaves)
    roots = [root_from_leaves(leaves[:n]) for n in range(SMALL + 1)]
    return leaves, tree, roots


def test_every_inclusion_proof_up_to_70(small: tuple[list[bytes], MerkleTree, list[bytes]]) -> None:
    leaves, tree, roots = small
    rng = random.Random(1)
    for size in range(1, SMALL + 1):
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref_path(index, leaves[:size]), (index, size)
            assert len(proof) <= (size - 1).bit_length()
            leaf, root = leaves[index], roots[size]
            assert verify_inclusion(leaf, index, size, proof, root)
            # One flipped bit anywhere must break it.
            assert not verify_inclusion(flip(leaf, rng.randrange(256)), index, size, proof, root)
            assert not verify_inclusion(leaf, index, size, proof, flip(root, rng.randrange(256)))
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = flip(bad[i], rng.randrange(256))
                assert not verify_inclusion(leaf, index, size, bad, root), (index, size, i)
            # The proof is for this position only. (It does not pin the size
            # by itself, e.g. leaf 0 has the same path shape at sizes 3 and
            # 4: the signed root does that. Doubling always changes shape.)
            if size > 1:
                other = (index + 1) % size
                assert not verify_inclusion(leaf, other, size, proof, root)
            assert not verify_inclusion(leaf, index, 2 * size, proof, root)


def test_every_consistency_proof_up_to_70(
    small: tuple[list[bytes], MerkleTree, list[bytes]],
) -> None:
    leaves, tree, roots = small
    rng = random.Random(2)
    for new in range(0, SMALL + 1):
        for old in range(0, new + 1):
            proof = tree.consistency_proof(old, new)
            if 0 < old < new:
                assert proof == ref_subproof(old, leaves[:new], True), (old, new)
            else:
                assert proof == []
            if new:  # RFC 6962 §2.1.2: at most ceil(log2 n) + 1 nodes.
                assert len(proof) <= (new - 1).bit_length() + 1
            r1, r2 = roots[old], roots[new]
            assert verify_consistency(old, new, r1, r2, proof), (old, new)
            assert not verify_consistency(old, new, flip(r1, rng.randrange(256)), r2, proof)
            if old:  # the empty tree is a prefix of every tree, whatever its root
                assert not verify_consistency(old, new, r1, flip(r2, rng.randrange(256)), proof)
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = flip(bad[i], rng.randrange(256))
                assert not verify_consistency(old, new, r1, r2, bad), (old, new, i)


def test_consistency_rejects_a_rewritten_history(
    small: tuple[list[bytes], MerkleTree, list[bytes]],
) -> None:
    # A log that changed entry 5 after publishing size 20 cannot prove
    # consistency from the old root to its new one.
    leaves, _, roots = small
    forged = list(leaves)
    forged[5] = leaf_hash(b"rewritten")
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(forged)
    for new in range(20, SMALL + 1):
        proof = tree.consistency_proof(20, new)
        assert not verify_consistency(20, new, roots[20], tree.root(new), proof)


@pytest.mark.parametrize("seed", range(3))
def test_random_large_trees(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(5_000, 40_000)
    leaves = _leaves(n, seed)
    tree = MerkleTree(MemoryNodeStore())
    # Append in random batches, as the gateway would.
    start = 0
    while start < n:
        step = rng.randrange(1, 3000)
        tree.append_many(leaves[start : start + step])
        start += step
    root = root_from_leaves(leaves)
    assert tree.root() == root
    for _ in range(200):
        index = rng.randrange(n)
        proof = tree.inclusion_proof(index, n)
        assert verify_inclusion(leaves[index], index, n, proof, root)
        assert not verify_inclusion(leaves[index], index, n, proof, flip(root, 0))
    for _ in range(20):
        old = rng.randrange(1, n)
        old_root = root_from_leaves(leaves[:old])
        assert tree.root(old) == old_root
        proof = tree.consistency_proof(old, n)
        assert proof == ref_subproof(old, leaves, True)
        assert verify_consistency(old, n, old_root, root, proof)


# One shared tree for the property tests: building it per example would
# dominate the run time.
BIG_N = 3 * 4096 + 77
BIG_LEAVES = _leaves(BIG_N, seed=99)
BIG_TREE = MerkleTree(MemoryNodeStore())
BIG_TREE.append_many(BIG_LEAVES)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_inclusion_property(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=BIG_N), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    root = BIG_TREE.root(size)
    proof = BIG_TREE.inclusion_proof(index, size)
    assert verify_inclusion(BIG_LEAVES[index], index, size, proof, root)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
        proof[i] = flip(proof[i], bit)
        assert not verify_inclusion(BIG_LEAVES[index], index, size, proof, root)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_consistency_property(data: st.DataObject) -> None:
    new = data.draw(st.integers(min_value=0, max_value=BIG_N), label="new")
    old = data.draw(st.integers(min_value=0, max_value=new), label="old")
    r1, r2 = BIG_TREE.root(old), BIG_TREE.root(new)
    proof = BIG_TREE.consistency_proof(old, new)
    assert verify_consistency(old, new, r1, r2, proof)
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
        bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
        proof[i] = flip(proof[i], bit)
        assert not verify_consistency(old, new, r1, r2, proof)


def test_root_from_leaves_spot_checks() -> None:
    assert BIG_TREE.root() == root_from_leaves(BIG_LEAVES)
    a, b, c = _leaves(3, seed=5)
    assert root_from_leaves([a]) == a
    assert root_from_leaves([a, b]) == node_hash(a, b)
    assert root_from_leaves([a, b, c]) == node_hash(node_hash(a, b), c)


# Edge cases of the verifiers themselves.

H1, H2 = leaf_hash(b"1"), leaf_hash(b"2")


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 1), (1, 1)])
def test_inclusion_index_outside_tree(index: int, size: int) -> None:
    assert not verify_inclusion(H1, index, size, [], H1)


def test_inclusion_single_leaf() -> None:
    assert verify_inclusion(H1, 0, 1, [], H1)
    assert not verify_inclusion(H1, 0, 1, [], H2)
    assert not verify_inclusion(b"", 0, 1, [], b"")  # hashes of the wrong size


def test_inclusion_wrong_size_hashes_are_refused() -> None:
    root = node_hash(H1, H2)
    assert verify_inclusion(H1, 0, 2, [H2], root)
    assert not verify_inclusion(H1, 0, 2, [H2 + b"\x00"], root)
    assert not verify_inclusion(H1 + b"\x00", 0, 2, [H2], root)
    assert not verify_inclusion(H1, 0, 2, [H2], root[:31])


def test_consistency_edge_cases() -> None:
    # Equal sizes: equal roots and nothing else.
    assert verify_consistency(5, 5, H1, H1, [])
    assert not verify_consistency(5, 5, H1, H2, [])
    assert not verify_consistency(5, 5, H1, H1, [H1])
    # From the empty tree: only the empty root, and no proof.
    assert verify_consistency(0, 5, EMPTY_ROOT, H2, [])
    assert not verify_consistency(0, 5, H1, H2, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, H2, [H1])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    # Going backwards, or a missing proof.
    assert not verify_consistency(2, 1, H1, H2, [])
    assert not verify_consistency(1, 2, H1, H2, [])
    assert not verify_consistency(-1, 2, H1, H2, [H1])
    # Right answer, wrong hash sizes.
    assert verify_consistency(1, 2, H1, node_hash(H1, H2), [H2])
    assert not verify_consistency(1, 2, H1, node_hash(H1, H2), [H2[:31]])
    assert not verify_consistency(1, 2, H1 + b"\x00", node_hash(H1, H2), [H2])
