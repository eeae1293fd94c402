"""Small cells that subtraction cannot bring back (小数隐藏).

A report's figures are linked: the rows of a breakdown add up to a row of the summary (a meal
point and period), the summary's rows add up to the totals. Hiding a row of 1 to 4 people is not
enough when the others of its line and the line's sum are shown: the sum minus the others is the
hidden row. A `Line` is such a relation: `cells` that add up to a `margin` (another cell, or the
report's totals). `complete` hides more until every line holds:

- a line whose sum is shown and which hides anything hides at least two cells, one of them of 5
  or more people (then no hidden cell is the difference of shown figures, and none is pinned by
  the others being at least 1: the large one leaves room);
- a line whose sum is hidden hides a cell of 5 or more people too, unless all its cells are hidden
  (else the shown cells would add up to the hidden sum);
- when no cell is left to hide, the line's sum is hidden instead (and its own line is checked).

`tests/reports/disclosure.py` solves every hidden figure of a rendered report from the shown
ones (exact rational linear algebra and the bounds of counts) and finds none.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

SUPPRESS_BELOW = 5
SUPPRESSED = "<5"


def small(people: int) -> bool:
    """A figure describing 1 to 4 people (0 describes nobody and is shown)."""
    return 0 < people < SUPPRESS_BELOW


@dataclass(frozen=True)
class Line:
    cells: tuple[Hashable, ...]
    margin: Hashable


def complete(lines: list[Line], people: dict[Hashable, int], together=()) -> set:
    """The cells to hide: those describing 1 to 4 people, and as many more as the lines need.
    `people`: how many distinct people each cell (margins included) describes; `together`: groups
    of cells hidden all or none (figures of one row that other figures of it add up to)."""
    hidden = {c for c, n in people.items() if small(n)}
    changed = True
    while changed:
        changed = False
        for group in together:
            if hidden.intersection(group) and not hidden.issuperset(group):
                hidden.update(group)
                changed = True
        for line in lines:
            more = _one_more(line, people, hidden)
            if more is not None:
                hidden.add(more)
                changed = True
    return hidden


def _one_more(line: Line, people: dict, hidden: set):
    """The next cell this line needs hidden, or None when it holds."""
    shown = [c for c in line.cells if c not in hidden and people[c] > 0]
    gone = [c for c in line.cells if c in hidden]
    large = any(people[c] >= SUPPRESS_BELOW for c in gone)
    if line.margin in hidden:
        need = shown and not large
    else:
        need = gone and not (large and len(gone) >= 2)
    if not need:
        return None
    candidates = [c for c in shown if large or people[c] >= SUPPRESS_BELOW]
    if not candidates:
        return None if line.margin in hidden else line.margin
    return min(candidates, key=lambda c: (people[c], str(c)))
