"""Known-answer tests: the RFC 6962 vectors used by Certificate Transparency.

Source: github.com/transparency-dev/merkle, testonly/constants.go (leaf
inputs, node hashes, roots) and proof/verify_test.go (inclusion and
consistency proofs), the same vectors as google/trillian's merkle/rfc6962.
Passing these means our trees and proofs interoperate with Go CT tooling.
"""

from __future__ import annotations

import pytest

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

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# NODE_HASHES[level][index], all perfect subtrees of the 8-leaf tree.
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# ROOTS[n] is MTH of the first n leaves.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# (leaf index, tree size, proof). The Go table numbers leaves from 1.
INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old size, new size, proof).
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


@pytest.fixture(scope="module")
def store() -> MemoryNodeStore:
    store = MemoryNodeStore()
    MerkleTree(store).append_many([leaf_hash(data) for data in LEAF_INPUTS])
    return store


@pytest.fixture(scope="module")
def tree(store: MemoryNodeStore) -> MerkleTree:
    return MerkleTree(store)


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert root_from_leaves([]) == EMPTY_ROOT
    assert MerkleTree(MemoryNodeStore()).root() == EMPTY_ROOT


def test_leaf_and_node_hashes() -> None:
    leaves = [leaf_hash(data) for data in LEAF_INPUTS]
    assert _hexes(leaves) == NODE_HASHES[0]
    assert node_hash(leaves[0], leaves[1]).hex() == NODE_HASHES[1][0]


def test_every_stored_node_matches(store: MemoryNodeStore) -> None:
    assert len(store) == sum(len(level) for level in NODE_HASHES)
    for level, hashes in enumerate(NODE_HASHES):
        for index, expected in enumerate(hashes):
            assert store.get(level, index).hex() == expected, (level, index)


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots(tree: MerkleTree, size: int) -> None:
    assert tree.root(size).hex() == ROOTS[size]
    leaves = [leaf_hash(data) for data in LEAF_INPUTS[:size]]
    assert root_from_leaves(leaves).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_known_inclusion_proofs(tree: MerkleTree, index: int, size: int, proof: list[str]) -> None:
    assert _hexes(tree.inclusion_proof(index, size)) == proof
    leaf = leaf_hash(LEAF_INPUTS[index])
    root = bytes.fromhex(ROOTS[size])
    hashes = [bytes.fromhex(h) for h in proof]
    assert verify_inclusion(leaf, index, size, hashes, root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_PROOFS)
def test_known_consistency_proofs(tree: MerkleTree, old: int, new: int, proof: list[str]) -> None:
    assert _hexes(tree.consistency_proof(old, new)) == proof
    hashes = [bytes.fromhex(h) for h in proof]
    assert verify_consistency(
        old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), hashes
    )


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS[1:])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, proof: list[str]) -> None:
    # The probes of transparency-dev/merkle's corruptInclusionProof.
    leaf = leaf_hash(LEAF_INPUTS[index])
    root = bytes.fromhex(ROOTS[size])
    hashes = [bytes.fromhex(h) for h in proof]
    probes: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (leaf, index - 1, size, hashes, root),
        (leaf, index + 1, size, hashes, root),
        (leaf, index ^ 2, size, hashes, root),
        (leaf, index, size * 2, hashes, root),
        (leaf, index, size // 2, hashes, root),
        (b"WrongLeaf", index, size, hashes, root),
        (leaf, index, size, hashes, EMPTY_ROOT),
        (leaf, index, size, hashes, SOME_HASH),
        (leaf, index, size, [*hashes, b""], root),
        (leaf, index, size, [*hashes, root], root),
        (leaf, index, size, [b"", *hashes], root),
        (leaf, index, size, [root, *hashes], root),
        (leaf, index, size, hashes[:-1], root),
    ]
    if len(hashes) > 1:
        probes.append((leaf, index, size, [hashes[0], SOME_HASH, *hashes[1:]], root))
    for i in range(len(hashes)):
        bad = list(hashes)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((leaf, index, size, bad, root))
    for probe in probes:
        assert not verify_inclusion(*probe), probe


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_PROOFS[1:])
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[str]) -> None:
    # The probes of transparency-dev/merkle's corruptConsistencyProof.
    r1, r2 = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    p = [bytes.fromhex(h) for h in proof]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, p),
        (old + 1, new, r1, r2, p),
        (old ^ 2, new, r1, r2, p),
        (old, new * 2, r1, r2, p),
        (old, new // 2, r1, r2, p),
        (old, new, b"WrongRoot", r2, p),
        (old, new, r1, b"WrongRoot", p),
        (old, new, r2, r1, p),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*p, b""]),
        (old, new, r1, r2, [*p, r1]),
        (old, new, r1, r2, [*p, r2]),
        (old, new, r1, r2, [b"", *p]),
        (old, new, r1, r2, [r1, *p]),
        (old, new, r1, r2, [r2, *p]),
        (old, new, r1, r2, [p[0], *p]),
        (old, new, r1, r2, p[:-1]),
    ]
    for i in range(len(p)):
        bad = list(p)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((old, new, r1, r2, bad))
    for probe in probes:
        assert not verify_consistency(*probe), probe


def test_rfc6962_example_consistency_proofs() -> None:
    # RFC 6962 §2.1.3: the 7-leaf tree with PROOF(3) = [c, d, g, l],
    # PROOF(4) = [l] and PROOF(6) = [i, j, k].
    leaves = [leaf_hash(bytes([i])) for i in range(7)]
    tree = MerkleTree(MemoryNodeStore())
    tree.append_many(leaves)
    _a, _b, c, d, e, f, d6 = leaves
    g = node_hash(_a, _b)
    h = node_hash(c, d)
    i = node_hash(e, f)
    j = d6
    k = node_hash(g, h)
    ell = node_hash(i, j)
    assert tree.consistency_proof(3, 7) == [c, d, g, ell]
    assert tree.consistency_proof(4, 7) == [ell]
    assert tree.consistency_proof(6, 7) == [i, j, k]
    # And the audit paths listed there.
    assert tree.inclusion_proof(0, 7) == [_b, h, ell]
    assert tree.inclusion_proof(3, 7) == [c, g, ell]
    assert tree.inclusion_proof(4, 7) == [f, j, k]
    assert tree.inclusion_proof(6, 7) == [i, k]
