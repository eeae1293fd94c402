"""Progress of long work (进度), one display: the plain lines of `linli.progress.Lines`, which a
`linli` command writes to stderr (cli/progress.py) and the worker's long jobs (report builds,
national exports, the nightly ledger check) write to their log, the same lines."""

from __future__ import annotations

import io
import logging

from click.testing import CliRunner

from cli.main import main
from cli.progress import Progress
from linli.progress import Lines
from tests.fixtures.builders import staff_token
from tests.fixtures.month import JUNE, Month
from tests.fixtures.progress import logged, parsed
from workers import jobs


def test_the_log_lines_are_the_commands_lines():
    written, shown = [], io.StringIO()
    for display in (
        Lines("任务 job", 4, written.append, every_percent=50, every_seconds=3600),
        Progress("任务 job", 4, stream=shown, tty=False, every_percent=50, every_seconds=3600),
    ):
        with display as p:
            for name in ("甲 a", "乙 b", "丙 c"):
                p.step(name)
    assert (
        parsed(written)
        == parsed(shown.getvalue().splitlines())
        == [
            ("任务 job", 0, 0, 4),
            ("任务 job · 甲 a", 0, 0, 4),
            ("任务 job · 乙 b", 25, 1, 4),
            ("任务 job · 丙 c", 50, 2, 4),
            ("任务 job · 丙 c", 100, 4, 4),
        ]
    )


def test_no_100_percent_when_the_work_fails():
    written = []
    try:
        with Lines("任务 job", 2, written.append) as p:
            p.step("甲 a")
            raise RuntimeError("断电 power cut")
    except RuntimeError:
        pass
    assert [percent for _, percent, _, _ in parsed(written)] == [0, 0]


def test_a_report_build_logs_its_progress(client, rt, clock, caplog):
    Month(rt, client, clock)
    admin = staff_token(client, "admin_a")
    r = client.post("/api/v1/reports", json={"kind": "meal_usage", "format": "xlsx", **JUNE}, headers=admin)
    report_id = r.json()["id"]
    caplog.set_level(logging.INFO, logger="linli.jobs")
    jobs.build_report(report_id)
    assert client.get(f"/api/v1/reports/{report_id}", headers=admin).json()["status"] == "done"
    label = f"报表 report {report_id}"
    assert parsed(logged(caplog, label)) == [
        (label, 0, 0, 2),
        (f"{label} · 统计 query", 0, 0, 2),
        (f"{label} · 统计 query", 50, 1, 2),
        (f"{label} · 生成文件 render", 50, 1, 2),
        (f"{label} · 生成文件 render", 100, 2, 2),
    ]


def test_the_nightly_ledger_check_logs_what_the_command_shows(rt, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="linli.jobs")
    assert jobs.ledger_verify()["ok"] is True
    job = parsed(logged(caplog, "核对账本 ledger verify"))
    monkeypatch.setenv("LINLI_DATABASE_URL", rt.settings.database_url)
    monkeypatch.setenv("LINLI_REDIS_URL", rt.settings.redis_url)
    monkeypatch.setenv("LINLI_SECRET_KEY", ",".join(f"{k}:{v.decode()}" for k, v in rt.settings.secret_keys))
    r = CliRunner().invoke(main, ["ledger", "verify"])
    assert r.exit_code == 0, r.output
    shown = parsed([line for line in r.stderr.splitlines() if line.startswith("核对账本")])
    assert job == shown and job[0][1] == 0 and job[-1][1] == 100 and len(job) > 3
    assert job[-1][0] == "核对账本 ledger verify · 计数 counts"  # the last phase, ended
