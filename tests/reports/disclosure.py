"""What a reader can solve from one rendered meal usage report (泄露检查): the attacker's side of
small-cell suppression.

A reader of a report knows every shown figure and how the figures are linked: each sheet's rows
add up to its totals, the by_slot and by_mode rows of a meal point and period add up to its
summary row, a funder's by_tier subsidies of a point and period add up to its column in the
summary row, a row's price is what diners paid plus the subsidy, which is every funder's part
(hub staff's reports, which show them), the budgets' used and left add up to the budget, this period's subsidy is the
funder's total in the summary (its agreement covers only the report's points), and the budget
columns add up to their totals. Each hidden figure ("<5") is an unknown. `disclosed` finds:

- every hidden figure determined uniquely by those equations (exact rational elimination: the
  unknown's unit vector lies in the row space of the system);
- every hidden count of meals pinned to one value by the bounds a reader has: a count is never
  negative, and a hidden row of a breakdown or of the summary has served at least one meal (zero
  rows are shown as 0). The bounds are propagated through the equations one at a time until they
  no longer move (sound, not always the tightest: what a reader can work out by hand).

Not modelled (docs/reports.md says what remains): a distinct count of diners is not a sum, so it
gives no equation; knowledge from outside the report (slot prices, schedule amounts, other
reports).

`truth` is the same report built without suppression: every equation is checked against it, so a
wrong equation fails loudly instead of hiding a disclosure.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

HIDDEN = "<5"
SUMS = {  # the columns that add up, per sheet (distinct diners do not)
    "summary": (
        "meals",
        "price",
        "paid",
        "subsidy",
        "booked",
        "booked_served",
        "no_shows",
        "reversed_subsidy",
    ),
    "by_slot": ("meals", "price", "paid", "subsidy"),
    "by_mode": ("meals", "price", "paid", "subsidy"),
    "by_tier": ("meals", "subsidy"),
    "budgets": ("budget_cap", "budget_used", "budget_left", "period_subsidy"),
}
COUNTS = {"meals"}  # hidden rows served at least one meal


class Report:
    """The cells of a rendered report: ("sheet", row index or "totals", column) -> value."""

    def __init__(self, body: dict) -> None:
        self.sheets = {s["key"]: s for s in body["sheets"]}
        self.funders = {  # funder name -> its summary column
            c["title"].removesuffix(" 补贴 subsidy"): c["key"]
            for c in self.sheets["summary"]["columns"]
            if c["key"].startswith("funder_")
        }

    def columns(self, sheet: str) -> list[str]:
        have = {c["key"] for c in self.sheets[sheet]["columns"]}
        extra = list(self.funders.values()) if sheet == "summary" else []
        return [c for c in SUMS[sheet] if c in have] + extra

    def value(self, cell):
        sheet, row, column = cell
        s = self.sheets[sheet]
        return (s["totals"] if row == "totals" else s["rows"][self.order.get(sheet, {}).get(row, row)])[
            column
        ]

    order: dict = {}

    def align(self, shown: Report) -> None:
        """Read this (unsuppressed) report in the shown one's row order: a hidden breakdown row
        has lost its label and comes after the shown rows of its meal point and period, in the
        same order among the hidden."""
        self.order = {}
        for key in ("by_slot", "by_mode", "by_tier"):
            labels = ("funder", "tier") if key == "by_tier" else (key[3:],)
            left = defaultdict(list)  # this report's rows of each point and period, in order
            for i, r in enumerate(self.sheets[key]["rows"]):
                left[(r["meal_point"], r["period"])].append(i)
            order = {}
            for i, r in enumerate(shown.sheets[key]["rows"]):
                rest = left[(r["meal_point"], r["period"])]
                if r[labels[-1]] == HIDDEN:
                    order[i] = rest.pop(0)
                else:
                    order[i] = next(
                        j for j in rest if all(self.sheets[key]["rows"][j][c] == r[c] for c in labels)
                    )
                    rest.remove(order[i])
            self.order[key] = order

    def equations(self) -> list[list]:
        """Each equation as a list of (coefficient, cell) adding up to 0."""
        eqs = []
        summary = self.sheets["summary"]
        group = {(r["meal_point"], r["period"]): i for i, r in enumerate(summary["rows"])}
        for key, s in self.sheets.items():
            for column in self.columns(key):
                eqs.append(
                    [(1, (key, i, column)) for i in range(len(s["rows"]))] + [(-1, (key, "totals", column))]
                )
        for key in ("by_slot", "by_mode"):
            parts = defaultdict(list)
            for i, r in enumerate(self.sheets[key]["rows"]):
                parts[group[(r["meal_point"], r["period"])]].append(i)
            for g, members in parts.items():
                for column in self.columns(key):
                    eqs.append([(1, (key, i, column)) for i in members] + [(-1, ("summary", g, column))])
            for column in self.columns(key):  # the same totals as the summary's
                eqs.append([(1, (key, "totals", column)), (-1, ("summary", "totals", column))])
        parts = defaultdict(list)
        for i, r in enumerate(self.sheets["by_tier"]["rows"]):
            parts[(group[(r["meal_point"], r["period"])], self.funders[r["funder"]])].append(i)
        for (g, funder), members in parts.items():
            eqs.append([(1, ("by_tier", i, "subsidy")) for i in members] + [(-1, ("summary", g, funder))])
        eqs.append(
            [(1, ("summary", "totals", f)) for f in self.funders.values()]
            + [(-1, ("by_tier", "totals", "subsidy"))]
        )
        if "subsidy" in self.columns("summary"):  # hub staff: every funder, and what diners paid
            for key in ("summary", "by_slot", "by_mode"):
                for i in [*range(len(self.sheets[key]["rows"])), "totals"]:
                    eqs.append([(1, (key, i, "paid")), (1, (key, i, "subsidy")), (-1, (key, i, "price"))])
            for i in [*range(len(summary["rows"])), "totals"]:
                eqs.append(
                    [(1, ("summary", i, f)) for f in self.funders.values()]
                    + [(-1, ("summary", i, "subsidy"))]
                )
        for i, r in enumerate(self.sheets["budgets"]["rows"]):
            cell = ("budgets", i)
            eqs.append(
                [(1, (*cell, "budget_used")), (1, (*cell, "budget_left")), (-1, (*cell, "budget_cap"))]
            )
            eqs.append(
                [(1, (*cell, "period_subsidy")), (-1, ("summary", "totals", self.funders[r["funder"]]))]
            )
        return eqs


def disclosed(body: dict, truth: dict) -> list[str]:
    """The hidden figures of `body` that its shown figures give away (empty: none)."""
    shown, real = Report(body), Report(truth)
    real.align(shown)
    unknowns: dict = {}
    system = []  # (coefficients by unknown, constant) for sum(coefficient * unknown) == constant
    for eq in shown.equations():
        assert sum(a * real.value(cell) for a, cell in eq) == 0, f"not an equation of the report: {eq}"
        coefficients, constant = defaultdict(int), 0
        for a, cell in eq:
            value = shown.value(cell)
            if value == HIDDEN:
                unknowns.setdefault(cell, len(unknowns))
                coefficients[unknowns[cell]] += a
            else:
                assert isinstance(value, int), (cell, value)
                constant -= a * value
        if any(coefficients.values()):
            system.append(({u: a for u, a in coefficients.items() if a}, constant))
        else:
            assert constant == 0, f"shown figures that do not add up: {eq}"
    cells = {u: cell for cell, u in unknowns.items()}
    found = [f"{cells[u]} = {real.value(cells[u])} (solved)" for u in _determined(system, len(unknowns))]
    for u, (low, high) in _bounds(system, cells).items():
        if low is not None and low == high:
            found.append(f"{cells[u]} = {low} (pinned by bounds)")
    return found


def _determined(system: list, n: int) -> list[int]:
    """Unknowns fixed by the equations: reduced row echelon form over the rationals; an unknown is
    determined when its pivot row has no other non-zero entry."""
    rows = [[Fraction(coefficients.get(u, 0)) for u in range(n)] for coefficients, _ in system]
    pivots, r = [], 0
    for column in range(n):
        pivot = next((i for i in range(r, len(rows)) if rows[i][column] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][column]
        rows[r] = [x / lead for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][column] != 0:
                factor = rows[i][column]
                rows[i] = [x - factor * y for x, y in zip(rows[i], rows[r], strict=True)]
        pivots.append((r, column))
        r += 1
    return [column for row, column in pivots if sum(1 for x in rows[row] if x != 0) == 1]


def _bounds(system: list, cells: dict) -> dict[int, tuple]:
    """Each hidden count's interval [low, high] (None: unbounded) from its lower bound and the
    equations, propagated until nothing moves."""
    low = {u: (1 if cell[2] in COUNTS and cell[1] != "totals" else 0) for u, cell in cells.items()}
    for u, cell in cells.items():
        if cell[2] == "reversed_subsidy":
            low[u] = None  # negative
    high: dict = dict.fromkeys(cells)
    for _ in range(100):
        moved = False
        for coefficients, constant in system:
            for u, a in coefficients.items():
                # a * x_u = constant - sum(others): the others' range bounds x_u
                lo_rest, hi_rest = constant, constant
                for v, b in coefficients.items():
                    if v == u:
                        continue
                    small, large = (low[v], high[v]) if b > 0 else (high[v], low[v])
                    lo_rest = None if lo_rest is None or large is None else lo_rest - b * large
                    hi_rest = None if hi_rest is None or small is None else hi_rest - b * small
                if a < 0:
                    lo_rest, hi_rest = (
                        (None if hi_rest is None else -hi_rest),
                        (None if lo_rest is None else -lo_rest),
                    )
                    a = -a
                new_low = None if lo_rest is None else -((-lo_rest) // a)  # ceil
                new_high = None if hi_rest is None else hi_rest // a
                if new_low is not None and (low[u] is None or new_low > low[u]):
                    low[u], moved = new_low, True
                if new_high is not None and (high[u] is None or new_high < high[u]):
                    high[u], moved = new_high, True
        if not moved:
            break
    return {u: (low[u], high[u]) for u in cells if cells[u][2] in COUNTS}
