"""The workload process: bad settings end it with one line and exit 2; SIGTERM ends it cleanly and fast;
pacing holds the rate and splits it by weight; no agent means no errors and no log spam."""
import os
import signal
import subprocess

import pytest
from credit_workload import settings

from tests.integration import program
from tests.integration.containers import Network, wait_for
from tests.integration.workload_support import WorkloadRun, run_image_once, workload_env

# Services connect and prepare before they report.
START_TIMEOUT_S = 60
# Report windows (2 s each) the pacing is judged over: one operation early or late moves a 2 s
# window by up to 1/(2 x target), but evens out over many.
PACING_WINDOWS = 10

BAD = [
    ({"WORKLOAD_SERVICES": "payments,loans"}, "WORKLOAD_SERVICES"),
    ({"WORKLOAD_SCENARIO": "meltdown"}, "WORKLOAD_SCENARIO"),
    ({"WORKLOAD_RATE": "-5"}, "WORKLOAD_RATE"),
    ({"WORKLOAD_RATE": "fast"}, "WORKLOAD_RATE"),
    ({"PGPORT": "70000"}, "PGPORT"),
    ({"WORKLOAD_REPORT_INTERVAL": "0"}, "WORKLOAD_REPORT_INTERVAL"),
    ({"DD_DBM_PROPAGATION_MODE": "everything"}, "DD_DBM_PROPAGATION_MODE"),
    ({"WORKLOAD_SCENARIOS": "steady"}, "WORKLOAD_SCENARIOS"),
]


@pytest.mark.parametrize("bad,var", BAD, ids=[v for _, v in BAD])
def test_bad_setting_is_one_line_and_exit_2(bad, var):
    # The image with the connection the component gives it, plus one bad setting.
    env = {"PGHOST": "db", "PGPORT": "5432", "PGDATABASE": "creditdb", "PGUSER": "credit_app",
           "PGPASSWORD": "hunter2", **bad}
    result = run_image_once(env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and var in lines[0] and ("expected" in lines[0] or "known" in lines[0]), result.stderr
    assert "hunter2" not in result.stderr            # the password is never echoed
    assert result.stdout == ""


def test_the_image_stands_alone_and_starts_with_its_defaults(lab_postgres):
    """The image as built from workload/ alone (its Python has only workload/requirements.txt, no
    Pulumi program on its path), given nothing but the password: its defaults find the lab's
    database by its alias, and every service commits."""
    no_program = run_image_once({}, argv=["python", "-c", "import components.topology"])
    assert no_program.returncode == 1 and "No module named 'components'" in no_program.stderr, no_program
    password = {"PGPASSWORD": lab_postgres.passwords[settings.DEFAULT_USER]}
    run = WorkloadRun(lab_postgres, bare_env=password).start()
    try:
        rows = run.wait_reports(per_service=1, services=len(settings.SERVICES),
                                timeout=START_TIMEOUT_S + settings.DEFAULT_REPORT_INTERVAL)
    finally:
        run.stop()
    assert {r["service"] for r in rows} == {settings.service_name(s) for s in settings.SERVICES}
    assert all(int(r["ok"]) > 0 and r["errors"] == 0 for r in rows), rows


def test_settings_parse_rules():
    ok = settings.parse({"WORKLOAD_RATE": "50", "WORKLOAD_SERVICES": "payments, scoring"})
    assert ok.services == ("scoring", "payments") and ok.scenario == settings.DEFAULT_SCENARIO
    assert abs(sum(ok.service_rate(s) for s in ok.services) - 50) < 1e-9
    assert settings.parse({"WORKLOAD_RATE": "max"}).rate is None
    conn = settings.parse({"PGHOST": "db.example", "PGPORT": "6543", "PGUSER": "bob", "PGPASSWORD": "p@ss"})
    assert (conn.host, conn.port, conn.user, conn.password, conn.dbname) == (
        "db.example", 6543, "bob", "p@ss", settings.DEFAULT_DBNAME)
    assert "p@ss" not in repr(conn)
    defaults = settings.parse({})
    assert (defaults.host, defaults.port, defaults.dbname, defaults.user) == (
        settings.DEFAULT_HOST, settings.DEFAULT_PORT, settings.DEFAULT_DBNAME, settings.DEFAULT_USER)
    assert settings.service_name("payments") == "credit-payments"
    assert settings.parse({}).connect_kwargs("scoring")["application_name"] == "credit-scoring"
    with pytest.raises(settings.SettingsError, match="WORKLOAD_RATE") as bad:
        settings.parse({"WORKLOAD_RATE": str(settings.MAX_RATE * 2)})
    assert (bad.value.var, bad.value.value) == (settings.ENV_RATE, str(settings.MAX_RATE * 2))
    assert str(settings.MAX_RATE) in bad.value.allowed or f"{settings.MAX_RATE:g}" in bad.value.allowed


def test_sigterm_finishes_in_flight_work_and_exits_0(lab_postgres):
    run = WorkloadRun(lab_postgres, workload_env(WORKLOAD_RATE=40)).start()
    try:
        early = run.health()        # before the first reports: not healthy yet
        run.wait_reports(per_service=1, services=5, timeout=30)
        healthy = run.health()
    finally:
        code, _ = run.stop()   # docker stop: SIGTERM, SIGKILL after the component's stop_timeout
    assert code == 0, f"not stopped by SIGTERM within the stop timeout: {code}\n{run.stderr()[-3000:]}"
    assert early.returncode == 1 and "no status yet" in early.stderr, early.stderr
    assert healthy.returncode == 0, healthy.stderr
    finals = [r for r in run.reports() if r["workers"] == "stopped"]
    assert len(finals) == 5, run.stdout()
    assert "Traceback" not in run.stderr(), run.stderr()[-3000:]


def test_no_database_yet_waits_quietly_and_stops_cleanly():
    # No `postgres` on the network yet: the services wait for the database; SIGTERM still ends them at once.
    network = Network()
    run = WorkloadRun(None, workload_env(WORKLOAD_REPORT_INTERVAL=1), network=network,
                      stack=program.stack()).start()
    try:
        wait_for(lambda: run.stderr().count("waiting for the database") >= 5, START_TIMEOUT_S,
                 "every service waiting for the database")
        # Several more attempts (one a second, each reported) must not log more lines.
        seen = len(run.reports())
        run.wait_reports(per_service=seen // 5 + 3, services=5, timeout=START_TIMEOUT_S)
        health = run.health()
    finally:
        code, _ = run.stop()
        run.remove()
        network.remove()
    assert code == 0, (code, run.stderr()[-2000:])
    assert health.returncode == 1 and "workers not started" in health.stderr, health.stderr
    assert "Traceback" not in run.stderr(), run.stderr()[-3000:]
    waiting = [line for line in run.stderr().splitlines() if "waiting for the database" in line]
    assert 1 <= len(waiting) <= 5, waiting     # one line per service, not one per attempt


def test_supervisor_restarts_a_killed_service_process(lab_postgres):
    run = WorkloadRun(lab_postgres, workload_env(WORKLOAD_RATE=20, WORKLOAD_SERVICES="payments,scoring"))
    run.start()
    try:
        run.wait_reports(per_service=1, services=2, timeout=30)
        children = subprocess.run(["pgrep", "-P", str(run.pid), "-f", "credit_workload.service payments"],
                                  capture_output=True, text=True, check=False).stdout.split()
        assert len(children) == 1, children
        os.kill(int(children[0]), signal.SIGKILL)
        before = len([r for r in run.reports() if r["service"] == "credit-payments"])
        # The supervisor restarts it after its first backoff (2 s); it starts and reports again.
        wait_for(lambda: len([r for r in run.reports() if r["service"] == "credit-payments"]) >= before + 2,
                 2 + START_TIMEOUT_S, lambda: f"payments back:\n{run.stdout()[-1500:]}\n{run.stderr()[-1500:]}")
    finally:
        code, _ = run.stop()
    assert code == 0
    assert "service payments exited with -9; restarting" in run.stderr()


def test_pacing_holds_rate_by_weight_and_no_agent_is_quiet(lab_postgres):
    # Traced (the stack has a Datadog key), but no Agent answers at its alias: the workload runs on, quietly.
    run = WorkloadRun(lab_postgres, workload_env(WORKLOAD_RATE=60), traced=True).start()
    try:
        rows = run.wait_reports(per_service=PACING_WINDOWS + 2, services=5,
                                timeout=START_TIMEOUT_S + (PACING_WINDOWS + 2) * 2 * 3)
    finally:
        code, _ = run.stop()
    assert code == 0
    weights = settings.service_weights(settings.SERVICES)
    for service in settings.SERVICES:
        name = settings.service_name(service)
        # Skip the warm-up window; a shared schedule makes the windows even out over many.
        mine = [r for r in rows if r["service"] == name and r["workers"] != "stopped"][2:2 + PACING_WINDOWS]
        achieved = sum(r["rate"] for r in mine) / len(mine)
        target = 60 * weights[service]
        assert mine[0]["target"] == pytest.approx(target, abs=0.05)
        assert achieved == pytest.approx(target, rel=0.05), (name, [r["rate"] for r in mine])
        assert all(r["errors"] == 0 for r in mine), mine
    err = run.stderr().splitlines()
    # Besides one start line per process: at most one "agent unreachable" warning per service process.
    starts = [line for line in err if " INFO " in line and ("starting" in line or "scenario steady" in line)]
    others = [line for line in err if line not in starts]
    assert len(starts) == 1 + len(settings.SERVICES), "\n".join(err)
    assert len(others) <= len(settings.SERVICES), "\n".join(others)
    assert all(" WARNING " in line and "trace agent unreachable" in line for line in others), "\n".join(others)


def test_each_report_line_is_one_write():
    """The five service processes share the container's stdout pipe (PYTHONUNBUFFERED): a report
    line written in two pieces can run into another service's line; one write of a line under
    PIPE_BUF bytes cannot."""
    import threading

    from credit_workload.runner import ServiceRunner

    class Out:
        def __init__(self):
            self.writes = []

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            pass

    out = Out()
    runner = ServiceRunner(settings.parse({"PGHOST": "db", "WORKLOAD_STATUS_DIR": "/nonexistent/status"}),
                           "payments", threading.Event(), out=out)
    runner.report()
    runner.report(final=True)
    assert len(out.writes) == 2 and all(w.endswith("\n") and w.count("\n") == 1 for w in out.writes), out.writes
    assert all(len(w.encode()) < 4096 for w in out.writes)
