"""The workload's speed and cost, in one run against a LabPostgres (the container's flags and init).

Prints:
  1. the five-service mix at full speed (WORKLOAD_RATE=max), tracing off and on (to a real
     ddapm-test-agent), next to pgbench running the same statements at the same client count;
  2. client CPU-seconds per 1,000 operations for each;
  3. one process per service (what the image runs) against all services as threads of one
     process (what DBM would then see as a single calling service): throughput, CPU, memory;
  4. pacing error at 50 and 500 ops/s (traced).
    python bench/bench_workload.py [--seconds 15] [--customers 2000]
"""
import argparse
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
from tests.integration.pg import LabPostgres
from tests.integration.tools import binary
from tests.integration.workload_support import TestAgent, WorkloadRun, workload_env

THREADS = 2
CLIENTS = THREADS * len(settings.SERVICES)

# The same statements as the services' main operations (services/*.py), one pgbench script per
# service, weighted like the services. Random ids are drawn the same way (id >= random start).
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
INSERT INTO journal_entries (credit_account_id, kind, description, idempotency_key)
  VALUES (:acc, 'payment', 'bench', gen_random_uuid()) RETURNING id AS je \\gset
INSERT INTO ledger_lines (journal_entry_id, gl_code, credit_account_id, amount) VALUES
  (:je, 'cash', NULL, :amount), (:je, 'loans_receivable', :acc, -:amount);
UPDATE credit_accounts SET balance = balance - :amount,
  days_past_due = CASE WHEN balance - :amount <= 0 THEN 0 ELSE days_past_due END WHERE id = :acc;
UPDATE payments SET status = 'settled', settled_at = now(), journal_entry_id = :je WHERE id = :pay;
COMMIT;
""",
    "statements": """
\\set start random(1, :maxa)
BEGIN;
SELECT j.posted_at, j.kind, l.gl_code, l.amount FROM journal_entries j JOIN ledger_lines l ON l.journal_entry_id = j.id
  WHERE j.credit_account_id = (SELECT id FROM credit_accounts WHERE id >= :start ORDER BY id LIMIT 1)
  AND j.posted_at >= now() - interval '90 days' ORDER BY j.posted_at;
COMMIT;
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


def tree_rss_mb(pid: int) -> float:
    """Memory of a process and its descendants as PSS (shared pages split, so the sum is fair)."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=", "-e"], capture_output=True, text=True, check=False).stdout
    rows = [tuple(int(x) for x in line.split()) for line in out.splitlines() if line.strip()]
    pids, changed = {pid}, True
    while changed:
        changed = False
        for p, pp in rows:
            if pp in pids and p not in pids:
                pids.add(p)
                changed = True
    total_kb = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def ops_by_service(run: WorkloadRun) -> dict:
    finals = {}
    for line in run.stdout().splitlines():
        if "workers=stopped" in line:
            name = line.split()[0]
            finals[name] = int(line.split("total_ops=")[1].split()[0])
    return finals


def total_ops(run: WorkloadRun) -> int:
    return sum(ops_by_service(run).values())


def run_workload(pg, tmp, name, seconds, traced=False, **env_over) -> dict:
    """The workload container (traced: the stack has a Datadog key, the test agent answers)."""
    env = workload_env(WORKLOAD_THREADS=THREADS, WORKLOAD_REPORT_INTERVAL=2, **env_over)
    cpu0 = children_cpu()
    run = WorkloadRun(Path(tmp), pg, env, name=name, traced=traced).start()
    run.wait_reports(per_service=1, services=len(settings.SERVICES), timeout=60)
    time.sleep(seconds)
    rss = tree_rss_mb(run.pid)
    code, _ = run.stop()
    assert code == 0, run.stderr()[-2000:]
    return {"run": run, "cpu": children_cpu() - cpu0, "ops": total_ops(run), "rss": rss}


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
    run = WorkloadRun(Path(tmp), pg, env, name=f"pacing-{rate}", traced=True).start()
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
        pg = LabPostgres(Path(tmp) / "pg", seed_customers=args.customers)
        agent = TestAgent(Path(tmp), pg.network)
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
                rate = r["ops"] / s
                print(f"   {label:28} {rate:8.0f} {rate / bench['tps']:10.2f} {1000 * r['cpu'] / r['ops']:24.3f}")
            print(f"   {'pgbench, same statements':28} {bench['tps']:8.0f} {1.0:10.2f} "
                  f"{1000 * bench['cpu'] / bench['ops']:24.3f}   (failed tx: {bench['failed']}; "
                  "scripts weighted like the untraced run's service mix)")
            print(f"   tracing on / off throughput: {on['ops'] / off['ops']:.2f}\n")

            threads_on = run_in_process(pg, tmp, s, traced=True)
            print("2. one process per service (the image) vs all services as threads of one process, traced")
            print(f"   processes: {on['ops'] / s:6.0f} ops/s, {1000 * on['cpu'] / on['ops']:.3f} CPU s/1000 ops, "
                  f"PSS {on['rss']:.0f} MB (supervisor + 5 processes)")
            print(f"   threads:   {threads_on['ops'] / s:6.0f} ops/s, "
                  f"{1000 * threads_on['cpu'] / threads_on['ops']:.3f} CPU s/1000 ops, "
                  f"PSS {threads_on['rss']:.0f} MB (1 process)\n")

            print("3. pacing (traced), achieved vs target over the reports after warm-up")
            for rate in (50, 500):
                p = pacing(pg, tmp, rate, s)
                print(f"   target {rate:4d} ops/s: achieved {p['total']:7.1f}  total error {100 * p['error']:.1f}%  "
                      f"worst service {100 * p['worst_service']:.1f}%  op errors {p['errors']}")
        finally:
            agent.stop()
            pg.destroy()


if __name__ == "__main__":
    main()
