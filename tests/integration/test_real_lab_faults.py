"""What the real Docker Engine does to the lab, on the real lab (issue 18, items 2, 5 and 6).

The test stack is brought up by the real Pulumi CLI (tests/integration/real_lab.py). Then: a new
`workloadScenario` replaces the workload container and nothing else (README's promise), and
slow-query's plan reaches the PostgreSQL log; five minutes at `workloadRate=max` stay within every
container's memory limit and log rotation; `docker restart` of PostgreSQL and a restart of the
Docker daemon itself bring every container back by its restart policy, healthy, with every write
the workload had committed still there once; `docker stop` ends each container by its own stop
signal within its stop timeout.

These tests restart the Docker daemon: every container without a restart policy stops with it, so
conftest.py runs this module after every other test of the session.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from pulumi import automation as auto

from components import topology
from components.settings import declarations
from tests.integration import real_lab
from tests.integration.workload_support import invariant_violations

pytestmark = pytest.mark.restarts_docker

# The tables the workload writes to, by their serial ids: what it committed before a fault.
WRITTEN = ("customers", "credit_applications", "journal_entries", "payments")
# The slow-query scenario's unindexed lookup (GAP 1), in the auto_explain plan it logs.
PEER_QUERY_MARK = "l.credit_account_id = a.id"
# A service retries a failed operation for db.RETRY_WINDOW (20 s) with backoff up to 2 s; its
# services start and prepare within a minute (test_workload_scenarios.START_TIMEOUT_S).
RECOVERY_S = 20 + 2 + 60
# The slow-query scenario runs one peer comparison every scoring.PEER_EVERY_SECONDS (5 s) once
# its services run; auto_explain logs each (test_workload_scenarios.SLOW_QUERY_DEADLINE_S).
SLOW_PLAN_S = 60 + 60
DOCKER_PID_FILE = "/var/run/docker.pid"
# dockerd stops every container on its way down (each by its stop signal and timeout, in
# parallel) and then exits; its own --shutdown-timeout is 15 s.
DOCKERD_SHUTDOWN_S = 15
REPO = real_lab.REPO
# Issue 18, item 6: five minutes at `max`, each container watched every WATCH_S seconds.
LOAD_S = 300
WATCH_S = 10
DEFAULT_RATE = float(declarations()["workloadRate"]["default"])
# README's promise (components/docker_common.py declares it): json-file, 10 MB x 3 per container.
LOG_MAX_MB, LOG_FILES = 10, 3

# How each process ends on its container's stop signal (the image's STOPSIGNAL, or SIGTERM):
# PostgreSQL's SIGINT is a fast shutdown (exit 0); Prometheus and Grafana catch SIGTERM and exit 0;
# the workload finishes its in-flight operations and exits 0 (test_workload_lifecycle). The
# exporter does not catch SIGTERM: Go's runtime re-raises it with the default action, which the
# kernel ignores for PID 1 of a PID namespace, and then exits 2 (runtime/signal_unix.go,
# dieFromSignal: "If we are still somehow running, just exit with the wrong status"). A SIGKILL
# after the stop timeout would be 137.
EXIT_ON_STOP = {
    topology.POSTGRES_ALIAS: 0,
    topology.PROMETHEUS_ALIAS: 0,
    topology.GRAFANA_ALIAS: 0,
    topology.WORKLOAD_ALIAS: 0,
    topology.EXPORTER_ALIAS: 2,
}


def _alias(lab, name: str) -> str:
    return name.removeprefix(f"{real_lab.PREFIX}-")


def _health_deadline_s(container) -> float:
    return real_lab.health_deadline_s(container.attrs["Config"]["Healthcheck"])


def _all_healthy(lab) -> None:
    """Every declared container running and healthy, each within what its healthcheck allows
    (restarts by the restart policy allowed: that is what brought them back)."""
    declared = {r["inputs"]["name"] for r in lab.resources("docker:index/container:Container")}
    containers = lab.containers()
    assert declared, "the state declares no container"
    assert set(containers) == declared, f"declared {sorted(declared)}, on the engine {sorted(containers)}"
    for name, container in containers.items():
        def healthy():
            container.reload()
            return container.attrs["State"].get("Health", {}).get("Status") == "healthy"
        container.reload()
        real_lab.wait_for(f"{name} healthy", healthy, _health_deadline_s(container))


def _connect(lab):
    return psycopg2.connect(lab.output("postgresDsn"), connect_timeout=10)


def _written(lab) -> dict[str, set[int]]:
    """The ids of every row of WRITTEN, committed as of one snapshot."""
    with _connect(lab) as connection, connection.cursor() as cursor:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        found = {}
        for table in WRITTEN:
            cursor.execute(f"SELECT id FROM {table}")   # noqa: S608 - table names are ours
            found[table] = {row[0] for row in cursor.fetchall()}
        return found


def _kept_and_growing(lab, before: dict[str, set[int]]) -> None:
    """Every row committed before the fault is there, and the workload commits new ones again
    (each table that gained rows before the fault gains rows after it); the invariants hold."""
    def writing_again():
        now = _written(lab)
        lost = {table: sorted(before[table] - now[table])[:10] for table in WRITTEN if before[table] - now[table]}
        assert not lost, f"committed rows gone after the fault: {lost}"
        return all(max(now[table]) > max(before[table]) for table in ("journal_entries", "credit_applications"))
    real_lab.wait_for("the workload committing again", writing_again, RECOVERY_S)
    with _connect(lab) as connection:
        assert invariant_violations(connection) == []


def _exporter_reads_postgres(lab) -> bool:
    with urllib.request.urlopen(lab.output("exporterUrl"), timeout=10) as reply:
        return b"\npg_up 1\n" in reply.read()


@pytest.fixture(scope="module")
def lab():
    with real_lab.running() as lab:
        _all_healthy(lab)
        yield lab


def _up_replaces_only_the_workload(lab, key: str, value: str | None) -> None:
    """`pulumi config set key value` (or `rm` with None) and `up`: README promises the workload
    container is replaced, and nothing else changes."""
    ids = {name: c.id for name, c in lab.containers().items()}
    if value is None:
        lab.stack.remove_config(key)
    else:
        lab.stack.set_config(key, auto.ConfigValue(value))
    result = lab.stack.up(color="never")
    lab.outputs = result.outputs
    changes = {kind: n for kind, n in (result.summary.resource_changes or {}).items() if kind != "same"}
    assert changes == {"replace": 1}, f"{key}={value}: {changes}"
    after = {name: c.id for name, c in lab.containers().items()}
    replaced = sorted(_alias(lab, name) for name in ids if after.get(name) != ids[name])
    assert replaced == [topology.WORKLOAD_ALIAS], f"{key}={value} replaced {replaced}"


def test_a_new_scenario_replaces_only_the_workload_and_slow_query_logs_its_plan(lab):
    database = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    since = int(time.time())
    _up_replaces_only_the_workload(lab, "workloadScenario", "slow-query")

    def plan_logged():
        log = database.logs(since=since).decode(errors="replace")
        return PEER_QUERY_MARK in log and log[log.index(PEER_QUERY_MARK):]
    plan = real_lab.wait_for("slow-query's plan in the PostgreSQL log", plan_logged, SLOW_PLAN_S)
    assert '"Node Type": "Seq Scan"' in plan[:20000] and '"Relation Name": "ledger_lines"' in plan[:20000]
    _up_replaces_only_the_workload(lab, "workloadScenario", None)   # back to the default, steady


def _workload_operations(lab) -> int:
    """The operations the workload's services completed, as each last reported (`total_ops=` in its
    report lines, cumulative since the container started): the workload's own, not the exporter's
    queries or anyone's reads, which pg_stat_database's xact_commit counts too."""
    workload = lab.containers()[f"{real_lab.PREFIX}-{topology.WORKLOAD_ALIAS}"]
    latest = dict(re.findall(r"^(credit-[a-z]+)\s+ops/s=\S+ .*?total_ops=(\d+)", workload.logs().decode(errors="replace"),
                             re.M))
    return sum(int(total) for total in latest.values())


def _log_files(container) -> list[Path]:
    """The json-file log of a container and its rotated files, on the engine's host."""
    current = Path(container.attrs["LogPath"])
    return sorted(current.parent.glob(current.name + "*"))


def test_max_rate_for_five_minutes_stays_within_memory_and_log_limits(lab):
    """Issue 18, item 6: the workload unpaced for LOAD_S under the declared memory limits: no container
    OOM-killed or restarted, each json-file log within its rotation; each one's peak memory printed
    next to its limit (bench/bench_up.py records them for README)."""
    _up_replaces_only_the_workload(lab, "workloadRate", "max")
    operations = _workload_operations(lab)
    end = time.monotonic() + LOAD_S
    with real_lab.MemoryPeaks(lab) as peaks:
        while time.monotonic() < end:   # the load's duration, watched: a container down fails at once
            for name, container in lab.containers().items():
                container.reload()
                state = container.attrs["State"]
                assert state["Running"] and not state["OOMKilled"], f"{name} under max load: {state}"
            _sleep_until(min(end, time.monotonic() + WATCH_S))
    print(f"\nmemory over {LOAD_S} s at workloadRate=max:\n{peaks.report()}")
    done = _workload_operations(lab) - operations
    assert done > 2 * DEFAULT_RATE * LOAD_S, f"{done} operations in {LOAD_S} s: the workload was not unpaced"
    for name, container in lab.containers().items():
        container.reload()
        state = container.attrs["State"]
        assert not state["OOMKilled"] and container.attrs["RestartCount"] == 0, f"{name}: {state}"
        log = container.attrs["HostConfig"]["LogConfig"]
        assert log == {"Type": "json-file", "Config": {"max-size": f"{LOG_MAX_MB}m", "max-file": str(LOG_FILES)}}, \
            f"{name} logs with {log}"
        files = _log_files(container)
        sizes = {f.name: f.stat().st_size for f in files}
        assert 1 <= len(files) <= LOG_FILES and max(sizes.values()) <= LOG_MAX_MB * real_lab.MB, f"{name}: {sizes}"
    _up_replaces_only_the_workload(lab, "workloadRate", None)


def test_a_log_past_its_size_rotates_and_keeps_three_files_at_most(lab):
    """The rotation really happens: PostgreSQL is made to write more than LOG_FILES x LOG_MAX_MB to
    its log (RAISE LOG lines, which the server writes at the default log_min_messages), and its
    json-file log then has rotated files, never more than LOG_FILES, none above LOG_MAX_MB."""
    database = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    line = 1000                                     # characters a line; json-file wraps each in ~100 more
    lines = (LOG_FILES + 1) * LOG_MAX_MB * real_lab.MB // line
    with _connect(lab) as connection, connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN FOR i IN 1..%s LOOP RAISE LOG 'log rotation filler %%', repeat('x', %s); END LOOP; END $$",
                       (lines, line))

    def rotated():
        files = _log_files(database)
        return files if len(files) > 1 else None
    files = real_lab.wait_for("the PostgreSQL log rotated", rotated, deadline_s=60)
    sizes = {f.name: f.stat().st_size for f in files}
    assert len(files) <= LOG_FILES, f"{len(files)} log files kept: {sizes}"
    assert max(sizes.values()) <= LOG_MAX_MB * real_lab.MB, sizes
    assert sum(sizes.values()) > (LOG_FILES - 1) * LOG_MAX_MB * real_lab.MB, f"the filler did not fill the files: {sizes}"


def _sleep_until(moment: float) -> None:
    threading.Event().wait(max(0.0, moment - time.monotonic()))


def test_docker_restart_of_postgres_brings_the_lab_back_with_every_write(lab):
    before = _written(lab)
    database = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    database.restart()   # its stop signal and timeout, then started again
    _all_healthy(lab)
    _kept_and_growing(lab, before)
    real_lab.wait_for("the exporter reading PostgreSQL again", lambda: _exporter_reads_postgres(lab), RECOVERY_S)


def _dockerd_pid() -> int:
    with open(DOCKER_PID_FILE) as pid_file:
        return int(pid_file.read().strip())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_restart_of_the_docker_daemon_brings_every_container_back(lab):
    before = _written(lab)
    longest_stop = max(c.attrs["Config"].get("StopTimeout") or 10 for c in lab.containers().values())
    pid = _dockerd_pid()
    os.kill(pid, signal.SIGTERM)
    real_lab.wait_for("dockerd exited", lambda: _gone(pid), DOCKERD_SHUTDOWN_S + longest_stop + 30)
    started = subprocess.run(["bash", str(REPO / ".ci" / "start-dockerd")], capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    assert _dockerd_pid() != pid
    _all_healthy(lab)
    _kept_and_growing(lab, before)
    real_lab.wait_for("the exporter reading PostgreSQL again", lambda: _exporter_reads_postgres(lab), RECOVERY_S)
    # The published ports are back too.
    with urllib.request.urlopen(f"{lab.output('prometheusUrl')}/-/ready", timeout=10) as reply:
        assert reply.status == 200


def test_docker_stop_ends_each_container_by_its_stop_signal_in_time(lab):
    """Runs last: the workload first (it is PostgreSQL's client), PostgreSQL last."""
    order = {topology.WORKLOAD_ALIAS: 0, topology.POSTGRES_ALIAS: 2}
    containers = sorted(lab.containers().items(), key=lambda item: order.get(_alias(lab, item[0]), 1))
    ended = {}
    for name, container in containers:
        container.reload()
        timeout = container.attrs["Config"].get("StopTimeout") or 10   # Docker's default
        started = time.monotonic()
        container.stop()   # the container's own stop signal and timeout
        took = time.monotonic() - started
        container.reload()
        state = container.attrs["State"]
        ended[_alias(lab, name)] = state["ExitCode"]
        assert not state["OOMKilled"], f"{name} was OOM-killed"
        assert took < timeout, f"{name} took {took:.1f} s of its {timeout} s stop timeout (then SIGKILL)"
    assert ended == EXIT_ON_STOP
