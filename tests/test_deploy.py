"""The service files of deploy/ (部署), as far as this machine allows: systemd is not PID 1 here, so
each unit is checked by `systemd-analyze verify` (where installed) and read, and its ExecStart
is run as a real process the way systemd would (its specifiers and variables expanded, its
EnvironmentFile the example filled in for this machine); the stack they make serves. The backup
scripts make a base backup of a PostgreSQL of the test's own with WAL archiving on, and the
restore procedure brings it back to a point in time on another port."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import LINLI, free_port

pytestmark = pytest.mark.slow  # real processes and a PostgreSQL of its own

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED = "/opt/linli/.venv/bin/linli"  # where the units expect the venv
PG_BIN = Path("/usr/lib/postgresql/15/bin")
RESTORE_PORT = 5443


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and their keys (each key's values in order)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as systemd's EnvironmentFile reads them (comments and blank lines skipped)."""
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def command_line(exec_start: str, instance: str, env: dict[str, str]) -> list[str]:
    """The argv systemd runs for ExecStart: specifiers (%i, %%) resolved, the line split into words
    (quotes kept together), then `$VAR` alone as a word split into words, `${VAR}` replaced in
    place, `$$` a dollar sign; the installed venv's linli replaced by this one's."""
    line = exec_start.replace("%%", "\0").replace("%i", instance).replace("\0", "%")
    argv: list[str] = []
    for word in shlex.split(line):
        if whole := re.fullmatch(r"\$(\w+)", word):
            argv += env.get(whole[1], "").split()
            continue
        argv.append(re.sub(r"\$\$|\$\{(\w+)\}", lambda m: "$" if m[0] == "$$" else env.get(m[1], ""), word))
    return [word.replace(INSTALLED, LINLI) for word in argv]


def this_machine(settings, tmp_path: Path) -> dict[str, str]:
    """The example env file, filled in for this machine (the suite's database and Redis)."""
    env = read_env_file(DEPLOY / "linli.env.example")
    env |= {
        "LINLI_DATABASE_URL": settings.database_url,
        "LINLI_REDIS_URL": settings.redis_url,
        "LINLI_SECRET_KEY": ",".join(f"{k}:{v.decode()}" for k, v in settings.secret_keys),
        "LINLI_BASE_URL": "http://127.0.0.1",
        "LINLI_TRUSTED_PROXIES": "127.0.0.1",
        "LINLI_VAR_DIR": str(tmp_path),
        "LISTEN_HOST": "127.0.0.1",
    }
    return env


def test_each_unit_runs_linli_as_its_user_from_the_env_file_and_is_restarted():
    assert {u.name for u in UNITS} == {
        "linli-serve@.service",
        "linli-worker@.service",
        "linli-cron.service",
        "linli-migrate.service",
    }
    for unit in UNITS:
        service = read_unit(unit)["Service"]
        assert service["User"] == ["linli"] and service["Group"] == ["linli"], unit.name
        assert service["EnvironmentFile"] == ["/etc/linli/linli.env"], unit.name
        [start] = service["ExecStart"]
        assert INSTALLED in start, unit.name
        if unit.name == "linli-migrate.service":
            assert service["Type"] == ["oneshot"] and "Restart" not in service
        else:  # a killed process comes back (the many-process test kills them)
            assert service["Restart"] == ["always"], unit.name
        if unit.name == "linli-worker@.service":  # its forked scheduler ends with it
            assert service["KillMode"] == ["control-group"]
            assert read_unit(unit)["Install"]["WantedBy"] == ["multi-user.target"]
    # every variable the env file sets is read by linli (or by a unit): no setting that does nothing
    example = read_env_file(DEPLOY / "linli.env.example")
    sources = "".join(p.read_text() for p in ROOT.glob("*/*.py") if ".venv" not in p.parts)
    units = "".join(u.read_text() for u in UNITS)
    for key in example:
        assert f'"{key}"' in sources or f"${{{key}}}" in units, key


def test_systemd_accepts_the_units(tmp_path):
    """`systemd-analyze verify` parses each unit as systemd would (unknown keys, bad values, a
    command that cannot run); the paths are this machine's."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    env_file = tmp_path / "linli.env"
    env_file.write_text((DEPLOY / "linli.env.example").read_text())
    names = []
    for unit, instance in (
        ("linli-serve@.service", "8001"),
        ("linli-worker@.service", "default-points.1"),
        ("linli-cron.service", None),
        ("linli-migrate.service", None),
    ):
        text = (DEPLOY / "systemd" / unit).read_text()
        text = text.replace(INSTALLED, LINLI).replace("/etc/linli/linli.env", str(env_file))
        name = unit.replace("@", f"@{instance}") if instance else unit
        (tmp_path / name).write_text(text)
        names.append(f"./{name}")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


def test_the_worker_instance_names_its_queues():
    [start] = read_unit(DEPLOY / "systemd" / "linli-worker@.service")["Service"]["ExecStart"]
    for instance, queues in (
        ("default-points.2", ["default", "points"]),
        ("reports.1", ["reports"]),
        ("webhooks", ["webhooks"]),
    ):
        argv = command_line(start, instance, {})  # bash -c '...' INSTANCE: $0 is the instance
        argv[2] = argv[2].replace("exec ", "echo ")  # what it would exec
        shown = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.split()
        assert shown == [LINLI, "worker", *[w for q in queues for w in ("--queues", q)]], shown


class Started:
    """Units' ExecStart lines as processes, each in its own process group, stopped with the test."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env, self.tmp_path, self.procs = env, tmp_path, {}

    def start(self, unit: str, instance: str = "") -> subprocess.Popen:
        [start] = read_unit(DEPLOY / "systemd" / unit)["Service"]["ExecStart"]
        name = unit.replace("@", f"@{instance}")
        log = (self.tmp_path / f"{name}.log").open("w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")} | self.env
        self.procs[name] = subprocess.Popen(
            command_line(start, instance, self.env),
            env=env,
            cwd=self.tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.procs[name]

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def _until(predicate, timeout: float, what) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, what()
        time.sleep(0.1)


def test_the_units_command_lines_start_a_stack_that_serves(rt, settings, tmp_path):
    from accounts.sender import DEMO_INBOX_KEY

    env = this_machine(settings, tmp_path)
    stack = Started(env, tmp_path)
    try:
        migrate = stack.start("linli-migrate.service")
        assert migrate.wait(timeout=120) == 0, stack.log("linli-migrate.service")
        port = free_port()
        stack.start("linli-serve@.service", str(port))
        fast = stack.start("linli-worker@.service", "default.1")
        stack.start("linli-worker@.service", "points.1")
        stack.start("linli-cron.service")
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            return False

        _until(ready, 60, lambda: stack.log(f"linli-serve@{port}.service")[-2000:])
        # the pool's process is linli itself, with the queues its instance names
        cmdline = Path(f"/proc/{fast.pid}/cmdline").read_bytes().split(b"\0")
        assert [a.decode() for a in cmdline[-3:-1]] == ["--queues", "default"]
        asked = httpx.post(
            f"{base}/api/v1/auth/codes",
            json={"phone": "13807310009"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert asked.status_code == 202, asked.text
        _until(
            lambda: rt.redis.llen(DEMO_INBOX_KEY) == 1,
            60,
            lambda: stack.log("linli-worker@default.1.service"),
        )
        assert "138****0009" in rt.redis.lindex(DEMO_INBOX_KEY, 0).decode()  # sent by the pool's worker
        _until(
            lambda: "became leader" in stack.log("linli-cron.service"),
            40,
            lambda: stack.log("linli-cron.service"),
        )
        assert all(p.poll() is None for n, p in stack.procs.items() if n != "linli-migrate.service")
    finally:
        stack.stop()


# --- backups: base backup, WAL archive, point-in-time restore ---------------------------------


class OwnCluster:
    """A PostgreSQL data directory of the test's own under a folder the postgres user owns."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.data = folder, folder / name

    def run(self, *argv, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, argv)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0 or not check, f"{argv}: {done.stdout[-1000:]} {done.stderr[-2000:]}"
        return done

    def start(self, options: str) -> None:
        self.run(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-o",
            options,
            "-l",
            self.folder / f"{self.data.name}.log",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)

    def sql(self, query: str, host: str) -> str:
        done = self.run(
            PG_BIN / "psql", "-h", host, "-p", RESTORE_PORT, "-U", "postgres", "-AtX", "-c", query
        )
        return done.stdout.strip()


@pytest.fixture
def backup_folder(settings):
    if settings.is_sqlite:
        pytest.skip("the restore is PostgreSQL's; it runs in the PostgreSQL pass")
    if os.geteuid() != 0 or shutil.which("runuser") is None or not (PG_BIN / "initdb").exists():
        pytest.skip("needs root, runuser and PostgreSQL 15's binaries")
    folder = Path(tempfile.mkdtemp(prefix="linli-backup-"))
    shutil.chown(folder, "postgres", "postgres")
    clusters: list[OwnCluster] = []
    yield folder, clusters
    for cluster in clusters:
        cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_a_base_backup_and_the_wal_archive_restore_to_a_point_in_time(backup_folder):
    folder, clusters = backup_folder
    scripts = folder / "bin"
    shutil.copytree(DEPLOY / "backup", scripts)
    archive, backups = folder / "backups" / "wal", folder / "backups"
    archive.mkdir(parents=True)
    for path in (scripts, backups, archive):
        shutil.chown(path, "postgres", "postgres")
    primary = OwnCluster(folder, "primary")
    clusters.append(primary)
    primary.run(PG_BIN / "initdb", "-D", primary.data, "-A", "trust", "-U", "postgres", "--no-sync")
    conf = (DEPLOY / "postgresql" / "archive.conf").read_text()
    conf = conf.replace("/opt/linli/deploy/backup", str(scripts)).replace(
        "/var/backups/linli/wal", str(archive)
    )
    with (primary.data / "postgresql.conf").open("a") as f:
        f.write(conf)
    # the primary listens on its socket only; the restored server takes the port on loopback
    primary.start(f"-p {RESTORE_PORT} -k {folder} -c listen_addresses= -c fsync=off")
    sock = str(folder)
    primary.sql(
        "CREATE TABLE t (n int, at timestamptz DEFAULT clock_timestamp()); INSERT INTO t (n) VALUES (1)", sock
    )

    env = {
        "PATH": f"{PG_BIN}:{os.environ['PATH']}",
        "PGHOST": sock,
        "PGPORT": str(RESTORE_PORT),
        "PGUSER": "postgres",
    }
    made = primary.run("sh", scripts / "base-backup.sh", backups, "7", env=env)
    [base] = (backups / "base").iterdir()
    assert {"PG_VERSION", "pg_wal", "backup_manifest"} <= {p.name for p in (base / "backup").iterdir()}
    assert (base / "done").exists(), made.stdout  # checked by pg_verifybackup against its manifest

    primary.sql("INSERT INTO t (n) VALUES (2)", sock)  # after the backup: only in the archived WAL
    target = primary.sql("SELECT clock_timestamp()", sock)
    primary.sql("INSERT INTO t (n) VALUES (3)", sock)  # the mistake, after the point to go back to
    last = primary.sql("SELECT pg_walfile_name(pg_switch_wal())", sock)
    _until(
        lambda: primary.sql("SELECT last_archived_wal FROM pg_stat_archiver", sock) >= last,
        30,
        lambda: primary.sql("SELECT * FROM pg_stat_archiver", sock),
    )
    primary.stop()  # the primary is lost

    restored = OwnCluster(folder, "restored")
    clusters.append(restored)
    restored.run("sh", scripts / "restore.sh", base, archive, restored.data, target)
    restored.start(f"-p {RESTORE_PORT} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off")
    _until(
        lambda: restored.sql("SELECT pg_is_in_recovery()", "127.0.0.1") == "f",  # replayed and promoted
        30,
        lambda: (folder / "restored.log").read_text()[-2000:],
    )
    assert restored.sql("SELECT string_agg(n::text, ',' ORDER BY n) FROM t", "127.0.0.1") == "1,2"
    restored.sql("INSERT INTO t (n) VALUES (4)", "127.0.0.1")  # it takes writes
