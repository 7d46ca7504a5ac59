"""Resilience under a fault schedule: the workload's backends are killed again and again and the
server restarts once, each fault as soon as the workload has recovered from the one before. No
worker thread dies, the double-entry invariants hold at every check, every acknowledged write is in
the database exactly once, and the rate comes back."""
import json
import re

import psycopg2
import pytest
from credit_workload import settings

from components import topology
from tests.integration.containers import StopWaiting, wait_for
from tests.integration.pg import LabPostgres
from tests.integration.workload_support import (
    WorkloadRun,
    invariant_violations,
    workload_env,
)

RATE = 40
# pg_terminate_backend of every workload backend, or a full server restart (a new container).
FAULTS = ("kill", "kill", "kill", "restart", "kill", "kill")
ACK_LOG = "/tmp/acks.jsonl"          # inside the container (its /tmp), copied out after the run
REPORT_S = 2                         # workload_env's report interval
# After a fault, a service retries for db.RETRY_WINDOW (20 s) with backoff up to 2 s, then reports:
# every service has reported new operations by then, or it has not recovered.
RECOVERY_DEADLINE_S = 20 + 2 + 3 * REPORT_S + 10


@pytest.fixture
def own_postgres():
    """Its own server: a restart must not disturb the session's shared one."""
    pg = LabPostgres(seed_customers=2000)
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


class Checker:
    """Superuser side channel: kills backends, checks invariants; reconnects after the restart."""

    def __init__(self, pg):
        self.pg, self.conn = pg, None
        self.checks, self.violations, self.killed = 0, [], 0

    def _cursor(self):
        if self.conn is None or self.conn.closed:
            self.conn = self.pg.connect(topology.SUPERUSER, topology.DATABASE)
        return self.conn

    def kill_workload_backends(self):
        conn = self._cursor()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE usename = %s", (topology.WORKLOAD_ROLE,))
            self.killed += cur.fetchone()[0]
        conn.autocommit = False

    def check_invariants(self):
        try:
            problems = invariant_violations(self._cursor())
        except psycopg2.Error:          # the server is restarting: nothing to read at this moment
            self.close()
            return
        self.checks += 1
        self.violations.extend(problems)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _acked_missing(pg, ack_lines: str) -> list:
    """Acknowledged writes (JSON lines the workload wrote after COMMIT) not in the database once."""
    acks = [json.loads(line) for line in ack_lines.splitlines() if line.strip()]
    fresh = [a for a in acks if not a.get("replayed")]
    assert len(fresh) > 50, f"too few acknowledged writes to judge: {len(fresh)}"
    missing = []
    with pg.connect(topology.SUPERUSER, topology.DATABASE) as conn, conn.cursor() as cur:
        for ack in fresh:
            key = ack["idempotency_key"]
            if ack["operation"] == "submit_application" and ack.get("application_id"):
                cur.execute("SELECT count(*) FROM credit_applications WHERE idempotency_key = %s", (key,))
            elif ack["operation"] == "register_customer":
                cur.execute("SELECT count(*) FROM customers WHERE email = %s", (f"{key}@applicants.example",))
            elif ack.get("journal_entry_id"):
                cur.execute("SELECT count(*) FROM journal_entries WHERE idempotency_key = %s", (key,))
            else:
                continue
            if cur.fetchone()[0] != 1:
                missing.append(ack)
    return missing


def _ops_by_service(run) -> dict:
    """Last reported total_ops of each service."""
    totals = {}
    for line in run.stdout().splitlines():
        found = re.match(r"^(credit-\w+)\s.* total_ops=(\d+)", line.strip())
        if found:
            totals[found.group(1)] = int(found.group(2))
    return totals


def test_survives_killed_connections_and_a_restart(own_postgres):
    run = WorkloadRun(own_postgres, workload_env(WORKLOAD_RATE=RATE, WORKLOAD_ACK_LOG=ACK_LOG)).start()
    checker = Checker(own_postgres)

    def recovered(since: dict) -> bool:
        """Every service has committed new work since `since`; the invariants hold meanwhile."""
        if not run.running():
            raise StopWaiting(run.stderr()[-3000:])
        checker.check_invariants()
        now = _ops_by_service(run)
        return len(now) == len(settings.SERVICES) and all(now[k] > since.get(k, 0) for k in now)

    try:
        run.wait_reports(per_service=1, services=5, timeout=40)
        for fault in FAULTS:
            before = _ops_by_service(run)
            if fault == "kill":
                checker.kill_workload_backends()
            else:
                checker.close()
                own_postgres.restart()
            wait_for(lambda: recovered(before), RECOVERY_DEADLINE_S, f"every service working again after {fault}",
                     interval=0.3)

        def back_on_target():
            recovered({})
            rows = [r for r in run.reports() if r["workers"] != "stopped"]
            last = {name: [r for r in rows if r["service"] == name][-2:] for name in map(settings.service_name,
                                                                                       settings.SERVICES)}
            return all(len(two) == 2 and all(r["rate"] >= 0.85 * r["target"] and r["errors"] == 0 for r in two)
                       for two in last.values())
        # The rate comes back: two full reports in a row at (nearly) the target, without errors.
        wait_for(back_on_target, RECOVERY_DEADLINE_S, "every service back on its target rate", interval=0.5)
    finally:
        code, _ = run.stop()
        checker.check_invariants()
        checker.close()

    assert code == 0, run.stderr()[-3000:]
    assert checker.killed >= 10, "the fault schedule did not hit the workload"
    assert checker.checks >= len(FAULTS) and not checker.violations, checker.violations[:5]

    rows = [r for r in run.reports() if r["workers"] != "stopped"]
    # No worker thread ever died: every report shows all workers alive.
    dead = [r for r in rows if r["workers"].split("/")[0] != r["workers"].split("/")[1]]
    assert not dead, dead[:5]
    # The faults were felt: every service reconnected.
    assert "reconnects=0 " not in " ".join(line for line in run.stdout().splitlines()[-5:])

    missing = _acked_missing(own_postgres, run.read_text(ACK_LOG))
    assert not missing, missing[:5]
    with own_postgres.connect(topology.SUPERUSER, topology.DATABASE) as conn:
        assert invariant_violations(conn) == []
