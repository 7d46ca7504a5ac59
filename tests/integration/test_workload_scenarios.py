"""Each scenario changes what PostgreSQL shows (pg_locks, pg_stat_activity, pg_stat_database,
the server log with auto_explain, pg_stat_statements); steady shows none of those signatures."""
import time

from components import topology
from tests.integration.workload_support import WorkloadRun, workload_env

WATCH_SECONDS = 12
PEER_QUERY_MARK = "l.credit_account_id = a.id"     # the slow-query scenario's unindexed lookup (GAP 1)


class Watch:
    """Polls the server as a superuser while the workload runs; records what each signature needs."""

    def __init__(self, pg):
        self.pg = pg
        self.conn = pg.connect(topology.SUPERUSER, topology.DATABASE)
        self.conn.autocommit = True
        self.log_offset = len(pg.log_text())
        self.lock_waits = 0          # workload backends waiting on a lock not granted
        self.idle_in_tx = 0          # credit-statements sessions idle in a transaction for > 2 s
        self.apps_seen = set()

    def one(self, sql, *args):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]

    def sessions(self) -> int:
        return self.one("SELECT sessions FROM pg_stat_database WHERE datname = %s", topology.DATABASE)

    def poll(self):
        self.lock_waits += self.one(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.usename = %s", topology.WORKLOAD_ROLE)
        self.idle_in_tx += self.one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'credit-statements' "
            "AND state = 'idle in transaction' AND state_change < now() - interval '2 seconds'")

    def slow_plans(self) -> list[str]:
        """auto_explain plans (JSON) of the peer comparison in the log since the watch began."""
        text = self.pg.log_text()[self.log_offset:]
        plans = []
        for chunk in text.split("plan:")[1:]:
            plan = chunk.split(" LOG: ")[0]
            if PEER_QUERY_MARK in plan:
                plans.append(plan)
        return plans

    def peer_query_mean_ms(self) -> float:
        return self.one("SELECT coalesce(max(mean_exec_time), 0) FROM pg_stat_statements "
                        "WHERE query LIKE %s", f"%{PEER_QUERY_MARK}%")

    def close(self):
        self.conn.close()


def _run_scenario(pg, tmp_path, scenario, done=lambda w: False):
    run = WorkloadRun(tmp_path, pg, workload_env(WORKLOAD_RATE=30, WORKLOAD_SCENARIO=scenario)).start()
    watch = Watch(pg)
    try:
        run.wait_reports(per_service=1, services=5, timeout=40)
        sessions_before, t0 = watch.sessions(), time.monotonic()
        while time.monotonic() - t0 < WATCH_SECONDS:
            watch.poll()
            if done(watch) and time.monotonic() - t0 > 3:
                break
            time.sleep(0.1)
        watch.new_sessions_per_s = (watch.sessions() - sessions_before) / (time.monotonic() - t0)
    finally:
        code, _ = run.stop()
        watch.close()
    assert code == 0, run.stderr()[-3000:]
    assert all(r["workers"] in ("stopped",) or r["workers"].split("/")[0] == r["workers"].split("/")[1]
               for r in run.reports())
    return watch, run


def test_steady_shows_no_scenario_signature(lab_postgres, tmp_path):
    watch, _ = _run_scenario(lab_postgres, tmp_path, "steady")
    assert watch.idle_in_tx == 0
    assert watch.new_sessions_per_s < 2, watch.new_sessions_per_s
    assert not watch.slow_plans()


def test_lock_contention_makes_lock_waits(lab_postgres, tmp_path):
    watch, _ = _run_scenario(lab_postgres, tmp_path, "lock-contention", lambda w: w.lock_waits >= 10)
    assert watch.lock_waits >= 10, watch.lock_waits


def test_slow_query_plan_in_server_log(lab_postgres, tmp_path):
    watch, _ = _run_scenario(lab_postgres, tmp_path, "slow-query", lambda w: bool(w.slow_plans()))
    plans = watch.slow_plans()
    assert plans, "no auto_explain plan of the peer comparison in the server log"
    assert '"Node Type": "Seq Scan"' in plans[0] and '"Relation Name": "ledger_lines"' in plans[0], plans[0][:2000]
    conn = lab_postgres.connect(topology.SUPERUSER, topology.DATABASE)
    try:
        with conn.cursor() as cur:   # what DBM reads: pg_stat_statements says it is slow
            cur.execute("SELECT max(mean_exec_time) FROM pg_stat_statements WHERE query LIKE %s",
                        (f"%{PEER_QUERY_MARK}%",))
            assert cur.fetchone()[0] > 200
    finally:
        conn.close()


def test_idle_in_transaction_sessions(lab_postgres, tmp_path):
    watch, _ = _run_scenario(lab_postgres, tmp_path, "idle-in-transaction", lambda w: w.idle_in_tx >= 3)
    assert watch.idle_in_tx >= 3


def test_connection_storm_opens_sessions(lab_postgres, tmp_path):
    watch, _ = _run_scenario(lab_postgres, tmp_path, "connection-storm")
    assert watch.new_sessions_per_s > 30, watch.new_sessions_per_s
