"""MerkleTree and MemoryNodeStore: stored nodes, roots, batching, read costs, errors."""

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
    ProofError,
    StoreError,
    leaf_hash,
    node_hash,
    root_from_leaves,
)


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(n)]


def _expected_nodes(leaves: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree of the leaves, computed level by level."""
    nodes: dict[tuple[int, int], bytes] = {}
    level, row = 0, list(leaves)
    while row:
        for index, digest in enumerate(row):
            nodes[(level, index)] = digest
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
    return nodes


def _assert_store_holds_exactly(store: MemoryNodeStore, leaves: Sequence[bytes]) -> None:
    expected = _expected_nodes(leaves)
    n = len(leaves)
    assert len(store) == len(expected) == 2 * n - n.bit_count()
    assert store.size() == n
    assert store.get_many(list(expected)) == expected


class CountingStore(MemoryNodeStore):
    """Records how the tree talks to its store."""

    def __init__(self) -> None:
        super().__init__()
        self.get_many_calls: list[int] = []
        self.put_many_calls: list[int] = []

    def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        self.get_many_calls.append(len(keys))
        return super().get_many(keys)

    def put_many(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self.put_many_calls.append(len(nodes))
        super().put_many(nodes)


@pytest.mark.parametrize("n", [*range(0, 70), 127, 128, 129, 1000, 1023, 1025])
def test_one_batch_stores_every_perfect_subtree(n: int) -> None:
    leaves = _leaves(n, seed=n)
    store = MemoryNodeStore()
    assert MerkleTree(store).append_many(leaves) == n
    _assert_store_holds_exactly(store, leaves)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=12))
def test_batches_give_the_same_nodes_as_one_batch(batch_sizes: list[int]) -> None:
    leaves = _leaves(sum(batch_sizes), seed=len(batch_sizes))
    store = MemoryNodeStore()
    tree = MerkleTree(store)
    start = 0
    for size in batch_sizes:
        assert tree.append_many(leaves[start : start + size]) == start + size
        start += size
    _assert_store_holds_exactly(store, leaves)


def test_one_leaf_at_a_time_matches_one_batch() -> None:
    leaves = _leaves(300, seed=7)
    one_by_one = MemoryNodeStore()
    tree = MerkleTree(one_by_one)
    for leaf in leaves:
        tree.append_many([leaf])
    _assert_store_holds_exactly(one_by_one, leaves)


def test_root_for_every_size_matches_naive() -> None:
    leaves = _leaves(300, seed=3)
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(leaves)
    assert tree.root() == tree.root(300)
    for size in range(301):
        assert tree.root(size) == root_from_leaves(leaves[:size]), size


def test_root_while_growing_matches_naive() -> None:
    leaves = _leaves(100, seed=4)
    tree = MerkleTree(MemoryNodeStore())
    for n in range(1, 101):
        tree.append_many(leaves[n - 1 : n])
        assert tree.root() == root_from_leaves(leaves[:n])


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 4096, 5000])
def test_reads_are_one_call_and_logarithmic(n: int) -> None:
    store = CountingStore()
    tree = MerkleTree(store)
    tree.append_many(_leaves(n))
    log_n = n.bit_length()

    store.get_many_calls.clear()
    tree.root()
    assert len(store.get_many_calls) == 1
    assert store.get_many_calls[0] <= log_n

    for index in {0, n // 3, n - 1}:
        store.get_many_calls.clear()
        tree.inclusion_proof(index, n)
        assert len(store.get_many_calls) <= 1
        assert sum(store.get_many_calls) <= 2 * log_n

    for old in {1, n // 2, n - 1}:
        store.get_many_calls.clear()
        tree.consistency_proof(old, n)
        assert len(store.get_many_calls) <= 1
        assert sum(store.get_many_calls) <= 2 * log_n


def test_append_reads_once_and_writes_once_per_call() -> None:
    store = CountingStore()
    tree = MerkleTree(store)
    tree.append_many(_leaves(1000))
    store.get_many_calls.clear()
    store.put_many_calls.clear()
    tree.append_many(_leaves(500, seed=1))
    # 1000 = 0b1111101000: six pending left siblings, read in one call.
    assert store.get_many_calls == [6]
    assert len(store.put_many_calls) == 1
    tree.append_many([])
    assert len(store.put_many_calls) == 1  # nothing to write, no write


def test_empty_tree() -> None:
    tree = MerkleTree(MemoryNodeStore())
    assert tree.size() == 0
    assert tree.root() == tree.root(0) == EMPTY_ROOT
    assert tree.consistency_proof(0, 0) == []
    assert tree.append_many([]) == 0


def test_trivial_consistency_proofs_are_empty() -> None:
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(_leaves(10))
    assert tree.consistency_proof(0, 10) == []
    assert tree.consistency_proof(7, 7) == []


@pytest.mark.parametrize("size", [-1, 11, 100])
def test_root_out_of_range(size: int) -> None:
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(_leaves(10))
    with pytest.raises(ProofError):
        tree.root(size)


@pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (0, 11), (10, 10)])
def test_inclusion_proof_out_of_range(index: int, size: int) -> None:
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(_leaves(10))
    with pytest.raises(ProofError, match="no inclusion proof"):
        tree.inclusion_proof(index, size)


@pytest.mark.parametrize(("old", "new"), [(-1, 5), (6, 5), (0, 11), (11, 11)])
def test_consistency_proof_out_of_range(old: int, new: int) -> None:
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(_leaves(10))
    with pytest.raises(ProofError, match="no consistency proof"):
        tree.consistency_proof(old, new)


def test_proof_error_is_a_value_error() -> None:
    assert issubclass(ProofError, ValueError)


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33])
def test_append_rejects_wrong_hash_length_and_writes_nothing(bad: bytes) -> None:
    store = MemoryNodeStore()
    tree = MerkleTree(store)
    with pytest.raises(ValueError, match="32 bytes"):
        tree.append_many([leaf_hash(b"ok"), bad])
    assert tree.size() == 0
    assert len(store) == 0


class ForgetfulStore(MemoryNodeStore):
    """Loses one node, as a truncated or tampered database would."""

    def __init__(self, lost: tuple[int, int]) -> None:
        super().__init__()
        self.lost = lost

    def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = super().get_many(keys)
        found.pop(self.lost, None)
        return found


def test_missing_node_raises_store_error() -> None:
    store = ForgetfulStore(lost=(2, 0))
    tree = MerkleTree(store)
    tree.append_many(_leaves(6))
    with pytest.raises(StoreError, match=r"missing node \(2, 0\)"):
        tree.root()
    with pytest.raises(StoreError):
        tree.inclusion_proof(5, 6)
    with pytest.raises(StoreError):
        tree.append_many(_leaves(1))  # needs (2, 0) as a pending left sibling


def test_memory_store_refuses_overwrite_atomically() -> None:
    store = MemoryNodeStore()
    store.put_many([(0, 0, b"a" * 32)])
    store.put_many([(0, 0, b"a" * 32)])  # same value: idempotent
    with pytest.raises(StoreError, match="overwrite"):
        store.put_many([(0, 1, b"b" * 32), (0, 0, b"c" * 32)])
    assert store.get(0, 0) == b"a" * 32
    assert store.size() == 1
    with pytest.raises(KeyError):
        store.get(0, 1)


def test_memory_store_get_many_leaves_out_absent_nodes() -> None:
    store = MemoryNodeStore()
    store.put_many([(0, 0, b"a" * 32), (0, 1, b"b" * 32), (1, 0, b"c" * 32)])
    assert store.size() == 2
    assert store.get_many([(0, 1), (5, 5)]) == {(0, 1): b"b" * 32}
