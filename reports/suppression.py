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

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import func, literal, literal_column, null, select, tuple_
from sqlalchemy.orm import Session

from meals.models import MealSubsidy

if TYPE_CHECKING:
    from reports.queries import Scope, Sheet

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


def protect(sheet: Sheet, scope: Scope, people: int, measures_from: int, group: int = 0, counts=()) -> None:
    """Small-cell suppression, in place (every report not asked as internal):
    - a row whose distinct people (column `people`) are 1 to 4 shows "<5" in every figure;
    - within a group (rows sharing their first `group` columns, whose sum another sheet or the
      totals show), one suppressed row alone would be read back by subtraction: the smallest
      other row of the group is suppressed too;
    - cells of `counts` (other counts of people, e.g. no-shows) of 1 to 4 show "<5";
    - totals describing 1 to 4 people are suppressed as well."""
    if not scope.suppress:
        return

    def hide(row):
        return row[:measures_from] + [SUPPRESSED] * (len(row) - measures_from)

    small = {i for i, r in enumerate(sheet.rows) if 0 < r[people] < SUPPRESS_BELOW}
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(sheet.rows):
        groups[tuple(r[:group])].append(i)
    for members in groups.values():
        hidden = [i for i in members if i in small]
        shown = [i for i in members if i not in small and sheet.rows[i][people] > 0]
        if len(hidden) == 1 and shown:
            small.add(min(shown, key=lambda i: sheet.rows[i][people]))
    rows = [hide(r) if i in small else list(r) for i, r in enumerate(sheet.rows)]
    totals = sheet.totals
    if totals is not None and isinstance(totals[people], int) and 0 < totals[people] < SUPPRESS_BELOW:
        totals = hide(totals)
    for row in [*rows, *([totals] if totals is not None else [])]:
        for c in counts:
            if isinstance(row[c], int) and 0 < row[c] < SUPPRESS_BELOW:
                row[c] = SUPPRESSED
    sheet.rows, sheet.totals = rows, totals


# ---------------------------------------------------------------------------------------------
# the meal usage report


def protect_meal_usage(
    sheets: list[Sheet],
    of_group: dict[str, list[int]],
    tier_funders: list[int],
    funder_ids: list[int],
    *,
    people: dict,
    together: bool,
    booked_at: int,
    reversed_people: list[int],
) -> None:
    """Small-cell suppression of a meal usage report (`reports.suppression`). The cells: each
    summary row's meals ("summary", i) and each funder's part of it ("funder", i, a), each
    breakdown row, the totals of the meals ("totals"), of each funder ("funder", a) and of by_tier.
    The lines: the summary's rows against the totals (by_slot and by_mode show the same totals),
    each point and period's by_slot and by_mode rows against its summary row, its by_tier rows of
    a funder against that funder's part, each funder's parts against its total, the funders'
    totals and all subsidized meals against by_tier's totals. In a hub's report every funder's
    part is hidden with its row (`together`): the row's subsidy is all of them and its price less
    what the diners paid. A hidden breakdown row hides its label too (by_tier would name the tier
    of someone hidden) and is listed after the shown rows of its point and period."""
    summary, *breakdowns = sheets[:4]
    rows = range(len(summary.rows))
    cells = dict(people)
    lines = [Line(tuple(("summary", i) for i in rows), "totals")]
    lines += [Line(tuple(("funder", i, a) for i in rows), ("funder", a)) for a in funder_ids]
    lines.append(Line(tuple(("funder", a) for a in funder_ids), "by_tier"))
    for sheet in breakdowns:
        members: dict[tuple, list] = defaultdict(list)
        for r, (row, i) in enumerate(zip(sheet.rows, of_group[sheet.key], strict=True)):
            cells[(sheet.key, r)] = row[[c.key for c in sheet.columns].index("diners")]
            members[("funder", i, tier_funders[r]) if sheet.key == "by_tier" else ("summary", i)].append(
                (sheet.key, r)
            )
        lines += [Line(tuple(m), margin) for margin, m in members.items()]
    lines.append(Line(tuple(("by_tier", r) for r in range(len(breakdowns[2].rows))), "by_tier"))
    bound = []  # cells hidden together
    if together:
        bound = [[("summary", i), *(("funder", i, a) for a in funder_ids)] for i in rows]
        bound.append(["totals", "by_tier", *(("funder", a) for a in funder_ids)])
    hidden = complete(lines, cells, [[c for c in group if cells[c] > 0] for group in bound])

    def hide(row: list, start: int, end: int, i, keys: list[str]) -> None:
        """Hide row[start:end], but a subsidy of every funder paid for nobody: 0, like each funder's
        (a hub's report; by_tier has no row for them). `i`: the row's summary row (None: totals)."""
        paid = sum(cells[("funder", i, a) if i is not None else ("funder", a)] for a in funder_ids)
        for c in range(start, end):
            if paid or c >= len(keys) or keys[c] != "subsidy":
                row[c] = SUPPRESSED

    funders_from = booked_at + 4
    bookings = range(booked_at, booked_at + 3)
    keys = [c.key for c in summary.columns]
    for i, row in [*enumerate(summary.rows), (None, summary.totals)]:
        if hidden_meals := ("summary", i) in hidden if i is not None else "totals" in hidden:
            hide(row, 2, booked_at, i, keys)  # meals, diners, price (paid, subsidy)
        for j, a in enumerate(funder_ids):
            if (("funder", i, a) if i is not None else ("funder", a)) in hidden:
                row[funders_from + j] = SUPPRESSED
        if i is not None and (hidden_meals or any(small(row[c]) for c in bookings)):
            for c in bookings:  # booked = served + no-shows (+ not yet due): hidden together
                row[c] = SUPPRESSED
        if i is not None and small(reversed_people[i]):
            row[booked_at + 3] = SUPPRESSED
    for c in [*bookings, booked_at + 3]:  # a lone hidden row would be the total minus the others
        if any(row[c] == SUPPRESSED for row in summary.rows):
            summary.totals[c] = SUPPRESSED
    for sheet in breakdowns:
        keys = [c.key for c in sheet.columns] if sheet.key != "by_tier" else []  # its own subsidy
        label = 3 if sheet.key == "by_tier" else 2
        for r, row in enumerate(sheet.rows):
            if (sheet.key, r) in hidden:
                hide(row, label, len(row), of_group[sheet.key][r], keys)
        order = sorted(
            range(len(sheet.rows)), key=lambda r: (of_group[sheet.key][r], (sheet.key, r) in hidden)
        )
        sheet.rows = [sheet.rows[r] for r in order]
        if ("by_tier" if sheet.key == "by_tier" else "totals") in hidden and sheet.rows:
            hide(sheet.totals, label + 1, len(sheet.totals), None, keys)


def protect_budgets(
    sheet: Sheet, summary: Sheet, ordered: list[int], period: dict, ever: dict, inside: set
) -> None:
    """The budget sheet's money describes people too: this period's subsidy (and its run-out day)
    is hidden when it was paid for 1 to 4 diners, or when it is the summary's hidden total for an
    agreement paying only inside the report (`inside`); what was used and is left, when the
    agreement has ever paid for 1 to 4 diners (`ever`). A hidden row hides the column's total
    (the total minus the other rows would be it). `ordered`: the rows' agreements."""
    keys = [c.key for c in summary.columns]
    for row, a in zip(sheet.rows, ordered, strict=True):
        copy = a in inside and summary.totals[keys.index(f"funder_{a}")] == SUPPRESSED
        if small(period.get(a, 0)) or copy:
            row[6] = row[7] = SUPPRESSED
        if small(ever.get(a, 0)):
            row[4] = row[5] = SUPPRESSED  # used + left = the budget
    for c in (4, 5, 6):
        if any(row[c] == SUPPRESSED for row in sheet.rows):
            sheet.totals[c] = SUPPRESSED


def budget_people(
    session: Session, agreements: dict, covers: dict[int, set], scope: Scope, start: date, end: date
) -> tuple[list[int], dict, dict, set]:
    """For the budget sheet's suppression: its agreements in row order, the diners each paid for
    in the period (at all its points) and ever (up to SUPPRESS_BELOW), and those paying only inside
    the report's scope (their period subsidy is the summary's total for them)."""
    alive = MealSubsidy.voided.is_(False) & MealSubsidy.held.is_(False)  # held: not reported yet
    ids = list(agreements)

    def diners(*where) -> dict:
        return dict(
            session.execute(
                select(MealSubsidy.agreement_id, func.count(MealSubsidy.diner_id.distinct()))
                .where(MealSubsidy.agreement_id.in_(ids), alive, *where)
                .group_by(MealSubsidy.agreement_id)
            ).all()
        )

    def first_diners(a: int) -> int:
        """The diners an agreement ever paid for, counted up to SUPPRESS_BELOW (all `small` asks):
        the first few of the index on agreement and diner, not every subsidy of its life."""
        first = (
            select(MealSubsidy.diner_id)
            .where(MealSubsidy.agreement_id == a, alive)
            .distinct()
            .limit(SUPPRESS_BELOW)
            .subquery()
        )
        return session.scalar(select(func.count()).select_from(first))

    ordered = [a.id for a in sorted(agreements.values(), key=lambda a: (a.stack_order, a.id))]
    period = diners(MealSubsidy.service_day >= start, MealSubsidy.service_day <= end)
    inside = {a for a in ids if covers[a] <= set(scope.meal_point_ids)}
    # ever: as many as in the period when those are not few, else the first few
    ever = {a: period[a] if period.get(a, 0) >= SUPPRESS_BELOW else first_diners(a) for a in ids}
    return ordered, period, ever, inside


def subsidy_counts(session: Session, paid_by, period) -> tuple[list[tuple], dict, dict, int]:
    """The in-scope funders' parts of the period's meals (`paid_by`), counted at four levels: the
    by_tier rows (point, period, funder, tier, meals, diners, fen), and the diners behind each
    funder's figure per point and period, per funder, and in all (a subsidy paid for 1 to 4 diners
    is hidden like them). One pass over the subsidies on PostgreSQL (grouping sets: a third of the
    time of four passes over a county's month); a query per level on SQLite, which has none."""
    keys = (MealSubsidy.meal_point_id, period, MealSubsidy.agreement_id, MealSubsidy.tier)
    measures = (func.count(), func.count(MealSubsidy.diner_id.distinct()), func.sum(MealSubsidy.amount))
    # each level: the keys it groups by, and its grouping(point, funder, tier) bits
    levels = (((0, 1, 2, 3), 0), ((0, 1, 2), 1), ((2,), 5), ((), 7))
    if session.get_bind().dialect.name == "postgresql":
        named = (*keys[:1], literal_column("period"), *keys[2:])  # the period by its label
        rows = session.execute(
            select(*keys, func.grouping(keys[0], keys[2], keys[3]), *measures)
            .where(paid_by)
            .group_by(func.grouping_sets(*(tuple_(*(named[i] for i in used)) for used, _ in levels)))
            .order_by(*named)
        ).all()
    else:
        rows = [
            row
            for used, bits in levels
            for row in session.execute(
                select(*(k if i in used else null() for i, k in enumerate(keys)), literal(bits), *measures)
                .where(paid_by)
                .group_by(*(keys[i] for i in used))
                .order_by(*(keys[i] for i in used))
            ).all()
        ]
    by_tier, per_point, per_funder, everyone = [], {}, {}, 0
    for p, b, a, t, bits, n, d, amount in rows:
        if bits == 0:
            by_tier.append((p, day_text(b), a, t, int(n), int(d), int(amount)))
        elif bits == 1:
            per_point[(p, day_text(b), a)] = int(d)
        elif bits == 5:
            per_funder[a] = int(d)
        else:
            everyone = int(d)
    return by_tier, per_point, per_funder, everyone


def day_text(value) -> str:
    """A period's first day as YYYY-MM-DD, whichever type the database gave it as."""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]
