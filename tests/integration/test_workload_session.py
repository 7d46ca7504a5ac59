"""A session runs a write as one transaction and a read-only operation in autocommit (no BEGIN and
COMMIT round trips, no commit span: issue 11), and an operation marked read-only only reads."""
import random
import threading
import time

import pytest
from credit_workload import settings
from credit_workload.db import GaveUp, Session
from credit_workload.services import load_service

from components import topology


def _parsed(pg):
    return settings.parse({"PGHOST": pg.host, "PGPORT": str(pg.port), "PGDATABASE": topology.DATABASE,
                           "PGUSER": topology.WORKLOAD_ROLE, "PGPASSWORD": pg.passwords[topology.WORKLOAD_ROLE]})


def _two_transaction_ids(cur):
    ids = []
    for _ in range(2):
        cur.execute("SELECT txid_current()")
        ids.append(cur.fetchone()[0])
    return ids


def test_read_only_statements_run_alone_and_a_write_after_them_is_one_transaction(lab_postgres):
    parsed = _parsed(lab_postgres)
    session = Session(parsed.connect_kwargs("payments"), threading.Event())
    try:
        (first, second), _ = session.transaction(_two_transaction_ids, read_only=True)
        assert first != second, "a read-only operation ran inside one transaction"
        (first, second), _ = session.transaction(_two_transaction_ids)
        assert first == second, "after a read-only operation, a write's statements ran in separate transactions"
        (first, second), _ = session.transaction(_two_transaction_ids, read_only=True)
        assert first != second, "a read-only operation after a write ran inside one transaction"
    finally:
        session.close()


# The operations that only read (issue 11: they run in autocommit), as README lists them;
# collections has none (its sweep and case work both write).
READ_ONLY_OPERATIONS = {"applications": {"application_status"}, "scoring": {"customer_profile"},
                        "payments": {"account_overview"}, "statements": {"account_activity", "period_report"},
                        "collections": set()}


@pytest.mark.parametrize("service_key", settings.SERVICES)
def test_operations_marked_read_only_only_read(lab_postgres, service_key):
    """Each read-only operation, run inside a READ ONLY transaction: any write it tried would fail
    (25006) and end as GaveUp. In autocommit a write would commit statement by statement. The
    operations marked read-only are exactly those README lists."""
    parsed = _parsed(lab_postgres)
    service = load_service(service_key, parsed)
    session = Session(parsed.connect_kwargs(service_key), threading.Event())
    rng = random.Random(11)
    try:
        session.transaction(service.prepare)
        read_only = {}
        for _ in range(300):
            op = service.next_operation(rng)
            if op.read_only:
                read_only.setdefault(op.name, op)
        assert set(read_only) == READ_ONLY_OPERATIONS[service_key], sorted(read_only)

        def guarded(cur, op):
            cur.execute("SET TRANSACTION READ ONLY")
            return op.run(cur, *op.args)
        for op in read_only.values():
            try:
                session.transaction(guarded, op)
            except GaveUp as exc:
                pytest.fail(f"{service_key} {op.name} is marked read-only but failed read-only: {exc}")
    finally:
        session.close()


def test_after_giving_up_on_a_lost_database_the_next_operations_fail_at_once(lab_postgres):
    """The circuit breaker (db.Session.unreachable): the first operation retries through the retry
    window, the next ones make one attempt each and give up before a window could pass, and the first
    that reaches the database again closes it. The role is made unable to log in and its backend
    killed: the database is lost to this session only."""
    window = 3.0
    role, password = "circuit_probe", f"pw-{random.getrandbits(64):x}"
    admin = lab_postgres.connect(topology.SUPERUSER, topology.DATABASE)
    admin.autocommit = True

    def as_admin(sql, *args):
        with admin.cursor() as cur:
            cur.execute(sql, args)
    as_admin(f"CREATE ROLE {role} LOGIN PASSWORD %s", password)
    as_admin(f"GRANT CONNECT ON DATABASE {topology.DATABASE} TO {role}")
    kwargs = dict(_parsed(lab_postgres).connect_kwargs("applications"), user=role, password=password)
    session = Session(kwargs, threading.Event(), retry_window=window)

    def select_one(cur):
        cur.execute("SELECT 1")
        return cur.fetchone()[0]
    try:
        assert session.transaction(select_one) == (1, 0)
        as_admin(f"ALTER ROLE {role} NOLOGIN")
        as_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", role)
        elapsed = []
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(GaveUp):
                session.transaction(select_one)
            elapsed.append(time.monotonic() - started)
        assert elapsed[0] >= window, f"the first operation gave up after {elapsed[0]:.1f} s, before its window"
        assert all(seconds < window for seconds in elapsed[1:]), f"later operations retried: {elapsed}"
        as_admin(f"ALTER ROLE {role} LOGIN")
        assert session.transaction(select_one) == (1, 0) and not session.unreachable
    finally:
        session.close()
        as_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", role)
        as_admin(f"REVOKE CONNECT ON DATABASE {topology.DATABASE} FROM {role}")
        as_admin(f"DROP ROLE {role}")
        admin.close()
