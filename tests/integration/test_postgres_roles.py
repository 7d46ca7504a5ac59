"""Each role can do what its container needs and nothing more; the credit schema holds together."""
import threading
import uuid

import psycopg2
import pytest

from components import topology

CREDIT_TABLES = ("customers", "credit_applications", "credit_accounts", "gl_accounts", "journal_entries",
                 "ledger_lines", "payments", "statements", "collection_cases")
MONITORS = (topology.DATADOG_ROLE, topology.EXPORTER_ROLE)


def _denied(server, role, sql, dbname=topology.DATABASE):
    with server.connect(role, dbname) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(sql)


@pytest.mark.parametrize("role", MONITORS)
@pytest.mark.parametrize("table", CREDIT_TABLES)
def test_monitors_can_neither_read_nor_write_credit_tables(lab_postgres, role, table):
    _denied(lab_postgres, role, f"SELECT * FROM {table} LIMIT 1")
    _denied(lab_postgres, role, f"DELETE FROM {table}")


@pytest.mark.parametrize("role", MONITORS)
def test_monitors_cannot_create_objects(lab_postgres, role):
    _denied(lab_postgres, role, "CREATE TABLE public.monitor_probe (x int)")


def test_workload_cannot_use_the_explain_function(lab_postgres):
    _denied(lab_postgres, topology.WORKLOAD_ROLE, "SELECT datadog.explain_statement('SELECT 1')")


def test_datadog_sees_other_roles_query_text_in_pg_stat_activity(lab_postgres):
    marker = f"activity_{uuid.uuid4().hex[:8]}"
    running = threading.Event()

    def busy_workload():
        with lab_postgres.connect() as conn, conn.cursor() as cur:
            running.set()
            cur.execute(f"SELECT pg_sleep(1.5) AS {marker}")

    worker = threading.Thread(target=busy_workload)
    worker.start()
    try:
        running.wait(5)
        seen = {}
        for role in (topology.DATADOG_ROLE, topology.WORKLOAD_ROLE):
            with lab_postgres.connect(role) as conn, conn.cursor() as cur:
                for _ in range(50):  # bounded: the statement is on its way
                    cur.execute("SELECT query FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()"
                                " AND state = 'active'", (topology.WORKLOAD_ROLE if role != topology.WORKLOAD_ROLE
                                                          else topology.DATADOG_ROLE,))
                    rows = [r[0] for r in cur.fetchall()]
                    if role == topology.WORKLOAD_ROLE or any(marker in q for q in rows):
                        break
                    cur.execute("SELECT pg_sleep(0.05)")
                seen[role] = rows
        assert any(marker in q for q in seen[topology.DATADOG_ROLE]), seen
    finally:
        worker.join(10)


def test_without_pg_monitor_query_text_is_hidden(lab_postgres):
    """The control for the test above: the workload role cannot read datadog's query text."""
    marker = f"hidden_{uuid.uuid4().hex[:8]}"
    with lab_postgres.connect(topology.DATADOG_ROLE) as dd, dd.cursor() as dd_cur:
        dd_cur.execute(f"SELECT 1 AS {marker}")  # stays the session's last query while idle
        with lab_postgres.connect() as app, app.cursor() as cur:
            cur.execute("SELECT query FROM pg_stat_activity WHERE usename = %s", (topology.DATADOG_ROLE,))
            texts = [r[0] for r in cur.fetchall()]
    assert texts and all(marker not in t for t in texts) and "<insufficient privilege>" in texts


def test_exporter_collector_statements_succeed(lab_postgres):
    """What the exporter's collectors read (the full exporter run is in test_exporter.py)."""
    statements = [
        "SELECT * FROM pg_stat_database",
        "SELECT pg_database.datname, pg_database_size(pg_database.datname) FROM pg_database",
        "SELECT * FROM pg_stat_bgwriter",
        "SELECT * FROM pg_stat_user_tables",
        "SELECT * FROM pg_statio_user_tables",
        "SELECT * FROM pg_locks",
        "SELECT * FROM pg_stat_replication",
        "SELECT pg_postmaster_start_time()",
        "SELECT count(*), sum(size) FROM pg_ls_waldir()",
        "SELECT name, setting, unit, vartype FROM pg_settings",
        "SELECT datname, age(datfrozenxid), mxid_age(datminmxid) FROM pg_database",
        "SELECT state, count(*), max(now() - xact_start) FROM pg_stat_activity GROUP BY state",
        "SELECT userid, dbid, queryid, query, calls, total_exec_time FROM pg_stat_statements"
        " ORDER BY total_exec_time DESC LIMIT 100",
    ]
    with lab_postgres.connect(topology.EXPORTER_ROLE) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
            cur.fetchall()
        cur.execute("SELECT count(*) FROM pg_stat_user_tables WHERE relname = ANY(%s)", (list(CREDIT_TABLES),))
        assert cur.fetchone()[0] == len(CREDIT_TABLES)
        cur.execute("SHOW search_path")   # no override on the role (it breaks stat_statements)
        assert cur.fetchone()[0] == '"$user", public'


def test_workload_role_does_what_the_workload_needs_and_is_no_superuser(lab_postgres):
    with lab_postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False, False)
        cur.execute("SELECT id, balance FROM credit_accounts WHERE status = 'active' ORDER BY id LIMIT 1 FOR UPDATE")
        account_id, balance = cur.fetchone()
        key = str(uuid.uuid4())
        cur.execute("INSERT INTO journal_entries (credit_account_id, kind, idempotency_key) "
                    "VALUES (%s, 'payment', %s) RETURNING id", (account_id, key))
        entry_id = cur.fetchone()[0]
        cur.execute("INSERT INTO ledger_lines (journal_entry_id, gl_code, credit_account_id, amount) VALUES "
                    "(%s, 'cash', NULL, 10), (%s, 'loans_receivable', %s, -10)", (entry_id, entry_id, account_id))
        cur.execute("INSERT INTO payments (credit_account_id, amount, method, status, settled_at, journal_entry_id)"
                    " VALUES (%s, 10, 'ach', 'settled', now(), %s)", (account_id, entry_id))
        cur.execute("UPDATE credit_accounts SET balance = balance - 10 WHERE id = %s", (account_id,))
        # A retried posting is a no-op.
        cur.execute("INSERT INTO journal_entries (credit_account_id, kind, idempotency_key) VALUES (%s, 'payment', %s)"
                    " ON CONFLICT (idempotency_key) DO NOTHING", (account_id, key))
        assert cur.rowcount == 0
        conn.rollback()  # leave the shared database as seeded
    _denied(lab_postgres, topology.WORKLOAD_ROLE, "CREATE ROLE sneaky")
    _denied(lab_postgres, topology.WORKLOAD_ROLE, "SELECT * FROM pg_authid")
    _denied(lab_postgres, topology.WORKLOAD_ROLE, "SELECT pg_read_file('postgresql.conf')")
    _denied(lab_postgres, topology.WORKLOAD_ROLE, "COPY customers TO PROGRAM 'true'")


def test_ledger_rejects_unbalanced_entries_and_edits(lab_postgres):
    with lab_postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM credit_accounts ORDER BY id LIMIT 1")
        account_id = cur.fetchone()[0]
        cur.execute("INSERT INTO journal_entries (credit_account_id, kind) VALUES (%s, 'fee') RETURNING id",
                    (account_id,))
        entry_id = cur.fetchone()[0]
        cur.execute("INSERT INTO ledger_lines (journal_entry_id, gl_code, credit_account_id, amount) "
                    "VALUES (%s, 'loans_receivable', %s, 5)", (entry_id, account_id))
        with pytest.raises(psycopg2.errors.CheckViolation, match="does not balance"):
            conn.commit()
    with lab_postgres.connect() as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
            cur.execute("UPDATE ledger_lines SET amount = amount + 1 WHERE id = 1")


def test_every_foreign_key_is_indexed_except_the_deliberate_gaps(lab_postgres):
    unindexed_fk = """
        SELECT c.conrelid::regclass::text, a.attname
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
         ORDER BY 1, 2"""
    with lab_postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(unindexed_fk)
        gaps = cur.fetchall()
        # ledger_lines.gl_code references a five-row table and is never searched by itself.
        assert gaps == [("credit_applications", "customer_id"), ("ledger_lines", "credit_account_id"),
                        ("ledger_lines", "gl_code")]
        # The slow-query scenario's statement scans the ledger (GAP 1).
        cur.execute("EXPLAIN (FORMAT JSON) SELECT sum(amount) FROM ledger_lines WHERE credit_account_id = 1")
        assert '"Seq Scan"' in str(cur.fetchone()[0]).replace("'", '"')
