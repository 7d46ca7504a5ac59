"""A session runs a write as one transaction and a read-only operation in autocommit (no BEGIN and
COMMIT round trips, no commit span: issue 11), and an operation marked read-only only reads."""
import random
import threading

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


@pytest.mark.parametrize("service_key", settings.SERVICES)
def test_operations_marked_read_only_only_read(lab_postgres, service_key):
    """Each read-only operation, run inside a READ ONLY transaction: any write it tried would fail
    (25006) and end as GaveUp. In autocommit a write would commit statement by statement."""
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
