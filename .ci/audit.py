"""Known vulnerabilities of the installed dependencies (依赖安全审计), in CI and by `make audit`.

pip-audit cannot work from this network: it asks PyPI's per-version JSON API (404 here) or OSV (not
reachable). PyPI's per-project JSON is reachable, and its `vulnerabilities` are those of the
project's newest release. So every installed distribution that is at its newest release is checked
(with `make`'s install, nearly all are); the others are listed as not checked, with the newest
version, and so are projects PyPI could not be asked about. A known vulnerability fails the run.

    .venv/bin/python .ci/audit.py
"""

from __future__ import annotations

import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata


def newest(name: str) -> dict | Exception:
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=20) as answer:
            return json.load(answer)
    except Exception as exc:  # reported as not checked, below
        return exc


def main() -> int:
    installed = {
        d.metadata["Name"]: d.version
        for d in metadata.distributions()
        if d.metadata["Name"] and d.metadata["Name"].lower() != "linli"
    }
    with ThreadPoolExecutor(8) as pool:
        pypi = dict(zip(installed, pool.map(newest, installed), strict=True))
    checked, unchecked, found = 0, [], []
    for name, version in sorted(installed.items(), key=lambda item: item[0].lower()):
        project = pypi[name]
        if isinstance(project, Exception):
            unchecked.append(f"{name} {version}: PyPI not reached ({project})")
        elif project["info"]["version"] != version:
            unchecked.append(f"{name} {version}: newest is {project['info']['version']}")
        else:
            checked += 1
            found += [
                f"{name} {version}: {v['id']} (fixed in {', '.join(v.get('fixed_in') or []) or 'no release yet'})"
                for v in project.get("vulnerabilities") or []
                if not v.get("withdrawn")
            ]
    print(
        f"audit: {checked} of {len(installed)} installed distributions checked, {len(found)} known vulnerabilities"
    )
    for line in unchecked:
        print(f"  not checked: {line}")
    for line in found:
        print(f"  VULNERABLE: {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
