"""PostgreSQL init at the default seed scale: time per phase, database and table sizes.

Runs the same LabPostgres the integration tests use (the container's flags and init scripts),
with CREDIT_SEED_CUSTOMERS at its default unless --customers says otherwise.
    python bench/bench_init.py [--customers N]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components import settings as lab_settings, topology  # noqa: E402
from tests.integration.pg import LabPostgres  # noqa: E402


# The statements the index gaps of 40-schema.sql make slow (the workload's slow-query scenario).
GAP_QUERIES = {
    "GAP 1 account ledger sum": "SELECT sum(amount) FROM ledger_lines WHERE credit_account_id = 4",
    "GAP 1 customer repayment history":
        "SELECT date_trunc('month', l.posted_at) AS month, sum(-l.amount) FILTER (WHERE l.amount < 0) AS repaid,"
        " sum(l.amount) FILTER (WHERE l.amount > 0) AS charged FROM ledger_lines l"
        " JOIN credit_accounts a ON a.id = l.credit_account_id"
        " WHERE a.customer_id = 4 AND l.posted_at > now() - interval '12 months' GROUP BY 1 ORDER BY 1",
    "GAP 2 prior applications": "SELECT id, status, score FROM credit_applications WHERE customer_id = 4",
}


def _timed(server, sql: str) -> tuple[float, float]:
    """Median ms of 5 runs, with parallel workers allowed and without (a busy server)."""
    results = []
    with server.connect() as conn, conn.cursor() as cur:
        for workers in ("2", "0"):
            cur.execute("SET max_parallel_workers_per_gather = %s", (workers,))
            runs = []
            for _ in range(5):
                started = time.monotonic()
                cur.execute(sql)
                cur.fetchall()
                runs.append((time.monotonic() - started) * 1000)
            results.append(sorted(runs)[2])
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=lab_settings.declarations()["seedCustomers"]["default"])
    customers = parser.parse_args().customers
    server = LabPostgres(seed_customers=customers)
    try:
        started = time.monotonic()
        server.start()
        first_start = time.monotonic() - started
        scripts = dict(server.script_seconds)
        started = time.monotonic()
        server.restart()
        restart = time.monotonic() - started
        with server.connect(topology.SUPERUSER) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            db_size = cur.fetchone()[0]
            cur.execute("SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid),"
                        " pg_indexes_size(c.oid) FROM pg_class c"
                        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
                        " ORDER BY pg_total_relation_size(c.oid) DESC")
            tables = cur.fetchall()
        gap_ms = {name: _timed(server, sql) for name, sql in GAP_QUERIES.items()}
        log = server.log_text()
    finally:
        server.destroy()
    print(f"customers={customers}")
    print(f"first start (initdb + scripts + server up): {first_start:.1f} s")
    for name, seconds in scripts.items():
        print(f"  {name:<22} {seconds:7.2f} s")
    print(f"restart on existing data (reapply every script): {restart:.1f} s")
    print(f"creditdb size: {db_size / 2**20:.0f} MiB")
    for name, rows, total, indexes in tables:
        print(f"  {name:<20} {rows:>10} rows {total / 2**20:8.1f} MiB (indexes {indexes / 2**20:.1f} MiB)")
    print("deliberate-gap queries as credit_app, warm cache, median of 5 (parallel / no parallel workers):")
    for name, (parallel, serial) in gap_ms.items():
        print(f"  {name:<34} {parallel:6.0f} ms / {serial:6.0f} ms")
    print(f"slow-statement log lines: {log.count('ms  statement:')}, auto_explain plans: {log.count('Query Text')}")


if __name__ == "__main__":
    main()
