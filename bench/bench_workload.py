"""The workload's speed and cost, in one run against a LabPostgres (the container's flags and init).

Prints:
  1. the five-service mix at full speed (WORKLOAD_RATE=max), tracing off and on (to a real
     ddapm-test-agent), next to pgbench running the same statements at the same client count;
  2. client CPU-seconds per 1,000 operations for each;
  3. one process per service (what the image runs) against all services as threads of one
     process (what DBM would then see as a single calling service): throughput, CPU, memory;
  4. pacing error at 50 and 500 ops/s (traced);
  5. the tracer's floor: bench/minimal_loop.py (transactions of trivial statements, as many per
     transaction as the workload's operations average) traced and untraced, beside the workload.
Every run ends with the goals of issue 11 and whether this machine meets them.
    python bench/bench_workload.py [--seconds 15] [--customers 2000]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "workload")]

from credit_workload import settings

from components import topology
from tests.integration.containers import wait_for
from tests.integration.pg import LabPostgres
from tests.integration.tools import binary, workload_venv
from tests.integration.workload_support import TestAgent, WorkloadRun, workload_env

THREADS = 2
CLIENTS = THREADS * len(settings.SERVICES)
# Issue 11's goals: traced throughput against pgbench, client CPU-seconds per 1,000 operations.
GOAL_TRACED_VS_PGBENCH, GOAL_TRACED_CPU, GOAL_UNTRACED_CPU = 0.85, 0.5, 0.25

# The same statements as the services' main operations (services/*.py), one pgbench script per
# service, weighted like the services. Random ids are drawn the same way (id >= random start);
# reads run in autocommit like the services' read-only operations.
PGBENCH_SCRIPTS = {
    "applications": """
\\set start random(1, :maxc)
BEGIN;
SELECT id, annual_income FROM customers WHERE id >= :start ORDER BY id LIMIT 1 \\gset c_
SELECT count(*), max(submitted_at) FROM credit_applications WHERE customer_id = :c_id;
INSERT INTO credit_applications (customer_id, product, requested_amount, term_months, idempotency_key)
  VALUES (:c_id, 'personal_loan', 5000, 36, gen_random_uuid()) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id;
COMMIT;
""",
    "scoring": """
BEGIN;
SELECT coalesce((SELECT a.id FROM credit_applications a WHERE a.status = 'submitted' ORDER BY a.submitted_at
  LIMIT 1 FOR UPDATE SKIP LOCKED), 0) AS app_id \\gset
SELECT coalesce((SELECT customer_id FROM credit_applications WHERE id = :app_id), 1) AS cust \\gset
SELECT id, balance, days_past_due FROM credit_accounts WHERE customer_id = :cust;
SELECT count(*) FROM credit_applications WHERE customer_id = :cust;
UPDATE credit_applications SET status = 'declined', score = 500, decision_reason = 'bench', decided_at = now()
  WHERE id = :app_id AND status = 'submitted';
COMMIT;
""",
    "payments": """
\\set start random(1, :maxa)
\\set amount random(20, 800)
BEGIN;
SELECT id AS acc, balance FROM credit_accounts WHERE id >= :start AND status IN ('active', 'delinquent')
  AND balance > 1000 ORDER BY id LIMIT 1 FOR UPDATE \\gset
INSERT INTO payments (credit_account_id, amount, method, idempotency_key) VALUES (:acc, :amount, 'ach', gen_random_uuid())
  ON CONFLICT (idempotency_key) DO NOTHING RETURNING id AS pay \\gset
WITH entry AS (INSERT INTO journal_entries (credit_account_id, kind, description, idempotency_key)
  VALUES (:acc, 'payment', 'bench', gen_random_uuid()) RETURNING id),
  lines AS (INSERT INTO ledger_lines (journal_entry_id, gl_code, credit_account_id, amount)
  SELECT entry.id, v.gl_code, v.account_id, v.amount FROM entry,
  (VALUES ('cash', NULL::bigint, :amount::numeric), ('loans_receivable', :acc, -:amount)) AS v (gl_code, account_id, amount))
  SELECT id AS je FROM entry \\gset
UPDATE credit_accounts SET balance = balance - :amount,
  days_past_due = CASE WHEN balance - :amount <= 0 THEN 0 ELSE days_past_due END WHERE id = :acc;
UPDATE payments SET status = 'settled', settled_at = now(), journal_entry_id = :je WHERE id = :pay;
COMMIT;
""",
    "statements": """
\\set start random(1, :maxa)
SELECT j.posted_at, j.kind, l.gl_code, l.amount FROM journal_entries j JOIN ledger_lines l ON l.journal_entry_id = j.id
  WHERE j.credit_account_id = (SELECT id FROM credit_accounts WHERE id >= :start ORDER BY id LIMIT 1)
  AND j.posted_at >= now() - interval '90 days' ORDER BY j.posted_at;
""",
    "collections": """
BEGIN;
UPDATE credit_accounts a SET days_past_due = current_date - a.next_due_date, status = 'delinquent'
  FROM (SELECT id FROM credit_accounts WHERE next_due_date < current_date AND status IN ('active', 'delinquent')
  AND balance > 0 ORDER BY next_due_date LIMIT 50 FOR UPDATE SKIP LOCKED) due WHERE a.id = due.id RETURNING a.id;
COMMIT;
""",
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU-seconds so far), from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return table


def descendants(pid: int, table: dict | None = None) -> set[int]:
    """`pid` and every live process under it."""
    table = table if table is not None else _process_table()
    found = set()
    for number in table:
        walk = number
        while walk > 1 and walk != pid:
            walk = table.get(walk, (0, 0.0))[0]
        if walk == pid:
            found.add(number)
    return found


def tree_rss_mb(pid: int) -> float:
    """Memory of a process and its descendants as PSS (shared pages split, so the sum is fair)."""
    total_kb = 0
    for p in descendants(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def tree_cpu_s(pid: int) -> float:
    """CPU-seconds (user + system) used so far by the live processes under `pid`, itself included."""
    table = _process_table()
    return sum(table[number][1] for number in descendants(pid, table))


def ops_reported(run: WorkloadRun) -> int:
    return sum(int(r["ok"]) for r in run.reports())


def ops_by_service(run: WorkloadRun) -> dict:
    finals = {}
    for line in run.stdout().splitlines():
        if "workers=stopped" in line:
            name = line.split()[0]
            finals[name] = int(line.split("total_ops=")[1].split()[0])
    return finals


def total_ops(run: WorkloadRun) -> int:
    return sum(ops_by_service(run).values())


def statement_calls(pg) -> int:
    """Statements the workload's role has sent (pg_stat_statements' top-level ones: the server's
    track = all also counts what triggers and functions run; BEGIN/COMMIT are not tracked)."""
    with pg.connect(topology.SUPERUSER) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
                    "WHERE r.rolname = %s AND s.toplevel", (topology.WORKLOAD_ROLE,))
        (calls,) = cur.fetchone()
    conn.close()
    return int(calls)


def run_workload(pg, tmp, name, seconds, traced=False, **env_over) -> dict:
    """The workload container (traced: the stack has a Datadog key, the test agent answers)."""
    env = workload_env(WORKLOAD_THREADS=THREADS, WORKLOAD_REPORT_INTERVAL=2, **env_over)
    run = WorkloadRun(pg, env, traced=traced).start()
    # Measured between two reports after every service has reported once: start-up (imports,
    # ddtrace's own set-up, connecting) is not per-operation cost.
    run.wait_reports(per_service=2, services=len(settings.SERVICES), timeout=60)
    calls0, cpu0, ops0, t0 = statement_calls(pg), tree_cpu_s(run.pid), ops_reported(run), time.monotonic()
    time.sleep(seconds)
    rows = len(run.reports())
    wait_for(lambda: len(run.reports()) >= rows + len(settings.SERVICES), 30, "a fresh report of every service")
    cpu1, ops1, t1, calls1 = tree_cpu_s(run.pid), ops_reported(run), time.monotonic(), statement_calls(pg)
    rss = tree_rss_mb(run.pid)
    code, _ = run.stop()
    assert code == 0, run.stderr()[-2000:]
    ops = ops1 - ops0
    return {"run": run, "cpu": cpu1 - cpu0, "ops": ops, "rss": rss, "rate": ops / (t1 - t0),
            "statements_per_op": (calls1 - calls0) / ops}


def minimal_loop(pg, traced: bool, seconds: float, statements: int) -> dict:
    """bench/minimal_loop.py in the workload's own Python, against the same server."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGHOST": pg.host, "PGPORT": str(pg.port),
           "PGPASSWORD": pg.passwords[topology.WORKLOAD_ROLE],
           "DD_TRACE_AGENT_URL": os.environ.get("BENCH_AGENT_URL", "http://127.0.0.1:9")}
    out = subprocess.run([str(workload_venv() / "bin" / "python"), str(ROOT / "bench" / "minimal_loop.py"),
                          "traced" if traced else "untraced", str(seconds), str(statements)],
                         env=env, capture_output=True, text=True, timeout=seconds + 120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_in_process(pg, tmp, seconds, traced: bool) -> dict:
    """All five services as threads of ONE process (the alternative to one process per service)."""
    env = settings.render_env(host=pg.host, port=pg.port, dbname=topology.DATABASE, user=topology.WORKLOAD_ROLE,
                              rate="max", threads=THREADS, report_interval=600)
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), PYTHONPATH=str(ROOT / "workload"),
               PGPASSWORD=pg.passwords[topology.WORKLOAD_ROLE], DD_TRACE_ENABLED="true" if traced else "false",
               DD_TRACE_AGENT_URL=os.environ.get("BENCH_AGENT_URL", "http://127.0.0.1:9"))
    code = ("import os, sys, resource\n"
            "from credit_workload import run_in_process\n"
            f"rs = run_in_process(dict(os.environ), {seconds}, out=open(os.devnull, 'w'), traced={traced})\n"
            "u = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print(sum(r.stats.totals['ops'] for r in rs), u.ru_utime + u.ru_stime)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(seconds * 0.8)
    rss = tree_rss_mb(proc.pid)
    stdout, stderr = proc.communicate(timeout=seconds + 60)
    assert proc.returncode == 0, stderr[-2000:]
    ops, cpu = stdout.split()[-2:]
    return {"ops": int(ops), "cpu": float(cpu), "rss": rss, "seconds": seconds}


def run_pgbench(pg, tmp, seconds, mix: dict) -> dict:
    """pgbench at the same client count, its scripts weighted like the workload's achieved mix."""
    total = sum(mix.values())
    args = []
    for service, script in PGBENCH_SCRIPTS.items():
        path = Path(tmp) / f"{service}.sql"
        path.write_text(script)
        share = mix.get(settings.service_name(service), 0) / total
        args += ["-f", f"{path}@{max(1, round(share * 1000))}"]
    with pg.connect(topology.WORKLOAD_ROLE) as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT max(id) FROM customers), (SELECT max(id) FROM credit_accounts)")
        maxc, maxa = cur.fetchone()
    conn.close()
    env = dict(os.environ, PGPASSWORD=pg.passwords[topology.WORKLOAD_ROLE])
    cpu0 = children_cpu()
    out = subprocess.run([str(binary("pgbench")), "-n", "-h", pg.host, "-p", str(pg.port), "-U",
                          topology.WORKLOAD_ROLE, "-c", str(CLIENTS), "-j", "2", "-T", str(int(seconds)),
                          "-D", f"maxc={maxc}", "-D", f"maxa={maxa}", *args, topology.DATABASE],
                         env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    assert out.returncode == 0, out.stderr[-2000:] + out.stdout[-2000:]
    tps = float(out.stdout.split("tps = ")[1].split()[0])
    failed = out.stdout.split("number of failed transactions: ")[1].split()[0]
    return {"tps": tps, "cpu": children_cpu() - cpu0, "ops": tps * seconds, "failed": failed}


def pacing(pg, tmp, rate, seconds) -> dict:
    threads = 2 if rate <= 100 else 6
    env = workload_env(WORKLOAD_RATE=rate, WORKLOAD_THREADS=threads, WORKLOAD_REPORT_INTERVAL=2)
    run = WorkloadRun(pg, env, traced=True).start()
    run.wait_reports(per_service=2, services=len(settings.SERVICES), timeout=60)
    time.sleep(seconds)
    run.stop()
    rows = [r for r in run.reports() if r["workers"] != "stopped"]
    worst, total = 0.0, 0.0
    for service in settings.SERVICES:
        mine = [r for r in rows if r["service"] == settings.service_name(service)][1:]   # skip warm-up
        achieved = sum(r["rate"] for r in mine) / len(mine)
        target = mine[0]["target"]
        total += achieved
        worst = max(worst, abs(achieved - target) / target)
    return {"total": total, "error": abs(total - rate) / rate, "worst_service": worst,
            "errors": sum(r["errors"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--customers", type=int, default=2000)
    # (pgbench runs each service's main transaction; the workload also runs lighter reads, so the
    #  ratio is indicative: same statements, same clients, same service mix, not the same op mix.)
    args = parser.parse_args()
    s = args.seconds
    with tempfile.TemporaryDirectory(prefix="bench-workload-") as tmp:
        pg = LabPostgres(seed_customers=args.customers)
        agent = TestAgent(pg.network)
        try:
            pg.start()
            agent.start()
            os.environ["BENCH_AGENT_URL"] = agent.url
            print(f"seed {args.customers} customers, {CLIENTS} clients ({THREADS} per service), {s:.0f}s per run, "
                  f"{os.cpu_count()} cores\n")
            off = run_workload(pg, tmp, "max-off", s, WORKLOAD_RATE="max")
            on = run_workload(pg, tmp, "max-on", s, traced=True, WORKLOAD_RATE="max")
            bench = run_pgbench(pg, tmp, s, ops_by_service(off["run"]))
            print("1. full speed, five-service mix")
            print(f"   {'':28} {'ops/s':>8} {'vs pgbench':>10} {'client CPU s / 1000 ops':>24}")
            for label, r in (("workload, tracing off", off), ("workload, tracing on (DBM full)", on)):
                rate = r["rate"]
                print(f"   {label:28} {rate:8.0f} {rate / bench['tps']:10.2f} {1000 * r['cpu'] / r['ops']:24.3f}")
            print(f"   {'pgbench, same statements':28} {bench['tps']:8.0f} {1.0:10.2f} "
                  f"{1000 * bench['cpu'] / bench['ops']:24.3f}   (failed tx: {bench['failed']}; "
                  "scripts weighted like the untraced run's service mix)")
            print(f"   tracing on / off throughput: {on['rate'] / off['rate']:.2f}\n")

            threads_on = run_in_process(pg, tmp, s, traced=True)
            print("2. one process per service (the image) vs all services as threads of one process, traced")
            print(f"   processes: {on['rate']:6.0f} ops/s, {1000 * on['cpu'] / on['ops']:.3f} CPU s/1000 ops, "
                  f"PSS {on['rss']:.0f} MB (supervisor + 5 processes)")
            print(f"   threads:   {threads_on['ops'] / s:6.0f} ops/s, "
                  f"{1000 * threads_on['cpu'] / threads_on['ops']:.3f} CPU s/1000 ops, "
                  f"PSS {threads_on['rss']:.0f} MB (1 process)\n")

            print("3. pacing (traced), achieved vs target over the reports after warm-up")
            for rate in (50, 500):
                p = pacing(pg, tmp, rate, s)
                print(f"   target {rate:4d} ops/s: achieved {p['total']:7.1f}  total error {100 * p['error']:.1f}%  "
                      f"worst service {100 * p['worst_service']:.1f}%  op errors {p['errors']}")

            per_op = on["statements_per_op"]
            k = max(1, round(per_op))
            floor_on, floor_off = (minimal_loop(pg, traced, s, k) for traced in (True, False))
            ours_on, ours_off = 1000 * on["cpu"] / on["ops"], 1000 * off["cpu"] / off["ops"]
            print(f"\n5. the tracer's floor: one connection, transactions of {k} x SELECT 1 (the workload averages "
                  f"{per_op:.1f} statements per operation), CPU s per 1000 transactions")
            print(f"   minimal loop traced {floor_on['cpu_per_1000_tx']:.3f}, untraced "
                  f"{floor_off['cpu_per_1000_tx']:.3f}: the tracer's own cost "
                  f"{floor_on['cpu_per_1000_tx'] - floor_off['cpu_per_1000_tx']:.3f}")
            print(f"   workload    traced {ours_on:.3f}, untraced {ours_off:.3f}: tracing costs "
                  f"{ours_on - ours_off:.3f}, of which above the floor "
                  f"{(ours_on - ours_off) - (floor_on['cpu_per_1000_tx'] - floor_off['cpu_per_1000_tx']):.3f}")

            print("\nGoals (issue 11), this run:")
            ratio = on["rate"] / bench["tps"]
            for label, value, goal, ok in (
                    ("traced throughput / pgbench", ratio, f">= {GOAL_TRACED_VS_PGBENCH}", ratio >= GOAL_TRACED_VS_PGBENCH),
                    ("traced client CPU s / 1000 ops", ours_on, f"<= {GOAL_TRACED_CPU}", ours_on <= GOAL_TRACED_CPU),
                    ("untraced client CPU s / 1000 ops", ours_off, f"<= {GOAL_UNTRACED_CPU}",
                     ours_off <= GOAL_UNTRACED_CPU)):
                print(f"   {label:34} {value:6.2f}  goal {goal:7}  {'met' if ok else 'NOT met'}")
        finally:
            agent.stop()
            pg.destroy()


if __name__ == "__main__":
    main()
