"""Streaming RFC 6962 roots: O(log n) memory for a log of any length.

The accumulator keeps the perfect subtrees of the leaves seen so far, like the
bits of a binary counter; ``root()`` folds them from the right. Verifiers use it
to recompute the root at every checkpoint while reading a log once.
"""

from __future__ import annotations

from audit.hashing import EMPTY_ROOT, node_hash

__all__ = ["RootAccumulator"]


class RootAccumulator:
    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly falling
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def add(self, leaf: bytes) -> None:
        height, digest = 0, leaf
        stack = self._stack
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            digest = node_hash(left, digest)
            height += 1
        stack.append((height, digest))
        self._size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = node_hash(left, digest)
        return digest
