"""Who may touch what (权限范围): the one rule, used everywhere.

Staff work over subtrees of the organization tree: an organization's `path` is like `/1/4/17/`,
so a subtree is a prefix, and a grant over `/1/4/` covers `/1/4/17/`. A coordinator may also be
bound to stations, and then acts at those stations whatever their organization. Callers resolve
what they guard (a meal point, a volunteer's filing, a station) to its organization's path and
ask here; `within` says the same rule in SQL, for listings and joins. Every id a request names,
in its path or its body, is resolved to its row and checked here before anything is written (a
volunteer, who belongs to no organization, reaches the teams they are filed with and the
organizations they served at: `volunteer.service.require_reached`). Nothing else in the code
compares paths by hand (`tests/test_architecture.py` looks for it).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, false, or_

from linli.errors import forbidden

OUTSIDE = "outside_your_scope"


def covers(paths: Iterable[str], path: str) -> bool:
    """Whether a grant over any of `paths` reaches the organization at `path`."""
    return any(path.startswith(p) for p in paths)


def county_of(path: str) -> str:
    """The path of the county base at the top of the tree `path` is in (`/1/4/17/` → `/1/`): what
    a county keeps for itself (its subsidy categories) is keyed by it."""
    return "/" + path.strip("/").split("/")[0] + "/"


def require(paths: Iterable[str], path: str, detail: str) -> None:
    """403 `outside_your_scope` with `detail` (Chinese first) unless `paths` cover `path`."""
    if not covers(paths, path):
        raise forbidden(detail, OUTSIDE)


def may_use_station(
    paths: Iterable[str], station_ids: Iterable[int] | None, station_id: int, path: str
) -> bool:
    """Whether staff may act at a station: bound to it, or over its organization's subtree."""
    return (bool(station_ids) and station_id in station_ids) or covers(paths, path)


def works_in(paths: Iterable[str], station_paths: Iterable[str], path: str) -> bool:
    """Whether staff work for the organization at `path` as a whole (a hub, for its shop and
    earning rules): a grant over it, over anything inside it or above it, or a station inside it
    they are bound to (`station_paths`: the paths of their stations' organizations)."""
    return any(path.startswith(p) or p.startswith(path) for p in paths) or any(
        s.startswith(path) for s in station_paths
    )


def within(column: ColumnElement[str], paths: Iterable[str | ColumnElement[str]]) -> ColumnElement[bool]:
    """`covers` in SQL: the organizations (by their path column) that `paths` reach (none when
    `paths` is empty). A path may be a column too, for joins: `within(Team.path, [Org.path])` is a
    team inside that organization. The organizations above a path: `above`."""
    return or_(false(), *(column.startswith(p) for p in paths))


def above(paths: Iterable[str]) -> list[str]:
    """The paths of the organizations at and above each of `paths` (`/1/4/17/` → `/1/`, `/1/4/`,
    `/1/4/17/`): `Organization.path.in_(above(paths))` finds them on the path index, where asking
    each organization whether its path is a prefix would read every organization of a province."""
    found: set[str] = set()
    for path in paths:
        parts = path.strip("/").split("/")
        found.update("/" + "/".join(parts[: n + 1]) + "/" for n in range(len(parts)))
    return sorted(found)
