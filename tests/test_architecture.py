"""The folders tell the architecture (架构约束), read from the code's own imports: which package
may import which (the table in docs/architecture.md), domains through each other's services,
and no module too long to read."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = {"orgs", "accounts", "volunteer", "meals", "points", "reports", "integrity", "grants", "records"}
BELOW_ENTRY = {"linli", "scans", *DOMAINS}
# who may import whom, between top-level packages (an edge to itself is always allowed)
ALLOWED = {
    "linli": set(),
    "orgs": {"linli"},
    "volunteer": {"linli", "orgs"},
    "accounts": {"linli", "orgs", "volunteer"},
    "meals": {"linli", "orgs"},
    "points": {"linli", "orgs", "volunteer"},
    "reports": {"linli", "orgs", "accounts", "volunteer", "meals", "points", "grants", "records"},
    "integrity": {"linli", "orgs", "volunteer", "meals"},
    "grants": {"linli", "orgs", "accounts", "volunteer", "points", "meals"},
    "records": {"linli", "orgs", "accounts", "volunteer", "points", "integrity"},
    "scans": {"linli", "orgs", "volunteer", "meals", "integrity"},
    # entry points: each is a composition root (it registers every model: migrations.models)
    "api": {*BELOW_ENTRY, "migrations"},
    "workers": {*BELOW_ENTRY, "migrations"},
    "cli": {*BELOW_ENTRY, "api", "workers", "migrations"},
    "migrations": {"linli", "scans", *DOMAINS},
}
# the one place a package reads another's repository: the scan door's one-statement check-ins and
# check-outs compose volunteer's attendance statements (scans/repository.py)
REPOSITORY_EXCEPTIONS = {("scans.repository", "volunteer.repository")}
MAX_LINES = 500


def _modules():
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            yield name, path


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_packages_import_only_what_the_table_allows():
    wrong = []
    for name, path in _modules():
        top = name.split(".")[0]
        for imported in _imports(path):
            other = imported.split(".")[0]
            if other in ALLOWED and other != top and other not in ALLOWED[top]:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_domains_meet_through_services_not_repositories():
    """A package never reads another's repository: its queries are its own. (Another domain's
    models may be imported: for types, and for joins in a repository's SQL.)"""
    wrong = [
        f"{name} imports {imported}"
        for name, path in _modules()
        for imported in _imports(path)
        if imported.split(".")[0] != name.split(".")[0]
        and imported.split(".")[0] in DOMAINS
        and len(imported.split(".")) > 1
        and imported.split(".")[1].startswith("repository")
        and (name, ".".join(imported.split(".")[:2])) not in REPOSITORY_EXCEPTIONS
    ]
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_no_module_is_too_long_to_read():
    long = {name: n for name, path in _modules() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    long |= {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "bench").glob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_the_subtree_rule_is_written_once():
    """Whether one organization is inside another (a path prefix) is asked of `linli.scope` only:
    `covers`/`require` in Python, `within` in SQL. A `.startswith` on anything named like a path,
    elsewhere, is the rule written again by hand (it was, about fifteen times)."""
    wrong = []
    for name, path in _modules():
        if name == "linli.scope":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "startswith"
                and "path" in ast.unparse(node).lower()
            ):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not wrong, "\n".join(wrong)


def test_identity_numbers_are_decrypted_in_one_place():
    """`records.identity.reveal` is the only decrypt path of identity numbers (it checks the
    export grant and audits): no other module calls a keyring's `decrypt`."""
    callers = []
    for name, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "decrypt" and name != "linli.idcrypt":
                callers.append(name)
    assert sorted(set(callers)) == ["records.identity"]


def test_export_files_are_opened_in_one_place():
    """An export file holds full identity numbers: it is opened (`linli.idcrypt.open_file`) only
    by `records.exports.take_file`, the audited, once-only download."""
    callers = []
    for name, path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name | ast.Attribute) and "open_file" in (
                getattr(node, "id", None),
                getattr(node, "attr", None),
            ):
                callers.append(name)
    assert sorted(set(callers) - {"linli.idcrypt"}) == ["records.exports"]
