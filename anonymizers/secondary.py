"""Secondary (complementary) suppression for grouped exact aggregates.

Primary suppression hides the groups below the threshold. That alone is not
enough: a recipient who also knows a margin (the total of a line of the table,
which another query of the same purpose may release) subtracts the visible
cells from it and recovers a lone hidden cell. Secondary suppression hides
further cells until no hidden cell is determined by the margins.

Method (a linear-algebra audit, the exact form of the rules "each row and column
holds 0 or at least 2 hidden cells"):

- the table's cells are the groups; a *line* is a set of cells that agree on
  every group key but one (a one-key table has a single line: its total). Each
  line's total is assumed known to the recipient, as is the sum of all hidden
  cells when the release shows one (a merged "other" row);
- a hidden cell is *determined* when the linear system of those totals, over
  the hidden cells as unknowns, fixes its value (its unit vector lies in the
  row space; computed exactly with rational Gaussian elimination);
- while some hidden cell is determined, hide the smallest visible cell of a line
  through it (fewest persons first, which costs the least information), and
  audit again.

When every cell ends hidden the release shows no group at all, and so adds
nothing to what the margins themselves say.

A line holding a single present cell is no constraint: its total is that cell,
a group of the lower-dimensional table, which is suppressed there by the same
rule. Cells absent from the result (no rows) are not used as complements: a
recipient may know they are empty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Sequence
from fractions import Fraction

__all__ = ["complementary_suppression", "determined_cells"]

Key = tuple[Hashable, ...]


def _lines(keys: Sequence[Key]) -> list[list[int]]:
    """Cells sharing every key but one, for each key position; lines of two cells or more."""
    width = len(keys[0]) if keys else 0
    lines: list[list[int]] = []
    for j in range(width):
        by_rest: dict[Key, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            by_rest[key[:j] + key[j + 1 :]].append(i)
        lines.extend(cells for cells in by_rest.values() if len(cells) >= 2)
    return lines


def determined_cells(
    lines: Sequence[Sequence[int]], hidden: Collection[int], hidden_sum_known: bool = False
) -> set[int]:
    """The hidden cells whose value the known line totals fix exactly."""
    unknowns = sorted(hidden)
    column = {cell: c for c, cell in enumerate(unknowns)}
    equations: list[list[Fraction]] = []
    for line in lines:
        members = [column[cell] for cell in line if cell in column]
        if members:
            row = [Fraction(0)] * len(unknowns)
            for c in members:
                row[c] = Fraction(1)
            equations.append(row)
    if hidden_sum_known and unknowns:
        equations.append([Fraction(1)] * len(unknowns))
    pivots: list[int] = []
    rank = 0
    for c in range(len(unknowns)):
        pivot = next((r for r in range(rank, len(equations)) if equations[r][c] != 0), None)
        if pivot is None:
            continue
        equations[rank], equations[pivot] = equations[pivot], equations[rank]
        lead = equations[rank][c]
        equations[rank] = [v / lead for v in equations[rank]]
        for r in range(len(equations)):
            if r != rank and equations[r][c] != 0:
                factor, pivot_row = equations[r][c], equations[rank]
                equations[r] = [
                    a - factor * b for a, b in zip(equations[r], pivot_row, strict=True)
                ]
        pivots.append(c)
        rank += 1
    free = [c for c in range(len(unknowns)) if c not in set(pivots)]
    fixed: set[int] = set()
    for r, c in enumerate(pivots):
        # Reduced row echelon form: the pivot's value is known iff no free unknown enters it.
        if all(equations[r][f] == 0 for f in free):
            fixed.add(unknowns[c])
    return fixed


def complementary_suppression(
    keys: Sequence[Key],
    sizes: Sequence[float],
    primary: Collection[int],
    hidden_sum_known: bool = False,
) -> set[int]:
    """Every cell to hide (``primary`` included) so that no hidden cell is determined.

    ``keys`` are the cells' group-key tuples (all of one length), ``sizes`` their person
    counts (the cost of hiding them), ``primary`` the positions below the threshold.
    """
    hidden = set(primary)
    if not hidden or not keys or not keys[0]:
        return hidden  # a table without group keys is a single cell: nothing to recompute
    lines = _lines(keys)
    through: dict[int, list[list[int]]] = defaultdict(list)
    for line in lines:
        for cell in line:
            through[cell].append(line)
    while True:
        fixed = determined_cells(lines, hidden, hidden_sum_known)
        if not fixed:
            return hidden
        cell = min(fixed)
        candidates = {c for line in through[cell] for c in line} - hidden
        if not candidates:
            # Every line through it is hidden already, yet a combination of lines fixes it:
            # widen to any visible cell of the table.
            candidates = set(range(len(keys))) - hidden
        if not candidates:
            return hidden  # nothing visible remains; every cell is hidden
        hidden.add(min(candidates, key=lambda c: (sizes[c], c)))
