"""An independent check of secondary suppression: which hidden cells the margins fix."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np


def recoverable(
    keys: Sequence[tuple[Hashable, ...]], hidden: set[int], total: bool = False
) -> set[int]:
    """Hidden cells that the margins a recipient may know fix exactly (numpy ranks).

    Margins are the line totals of one free key and, with ``total``, the grand total.
    """
    if not hidden or not keys or not keys[0]:
        return set()
    unknowns = sorted(hidden)
    rows: list[list[int]] = []
    for j in range(len(keys[0])):
        lines: dict[tuple[Hashable, ...], list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            lines[key[:j] + key[j + 1 :]].append(i)
        for cells in lines.values():
            if len(cells) >= 2 and hidden & set(cells):
                rows.append([1 if u in cells else 0 for u in unknowns])
    if total:
        rows.append([1] * len(unknowns))
    if not rows:
        return set()
    a = np.array(rows, dtype=float)
    rank = np.linalg.matrix_rank(a)
    found = set()
    for c, cell in enumerate(unknowns):
        unit = np.zeros((1, len(unknowns)))
        unit[0, c] = 1
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            found.add(cell)
    return found
