"""A write whose COMMIT outcome was unknown is retried with the same idempotency key: running the
very same operation a second time must find it applied and change nothing."""
import random
import threading

import pytest
from credit_workload import settings
from credit_workload.db import Session
from credit_workload.services import load_service

from components import topology
from tests.integration.workload_support import invariant_violations

# (service, operation name, how to count the rows its key produced)
WRITES = [
    ("applications", "submit_application", "SELECT count(*) FROM credit_applications WHERE idempotency_key = %s"),
    ("applications", "register_customer", "SELECT count(*) FROM customers WHERE email = %s || '@applicants.example'"),
    ("payments", "post_payment", "SELECT count(*) FROM journal_entries WHERE idempotency_key = %s"),
    ("statements", "generate_statement", "SELECT count(*) FROM journal_entries WHERE idempotency_key = %s"),
    ("scoring", "score_application", "SELECT count(*) FROM journal_entries WHERE idempotency_key = %s"),
]


def _env(pg):
    return {"PGHOST": pg.host, "PGPORT": str(pg.port), "PGDATABASE": topology.DATABASE,
            "PGUSER": topology.WORKLOAD_ROLE, "PGPASSWORD": pg.passwords[topology.WORKLOAD_ROLE]}


def _key_of(op):
    return next(a for a in op.args if isinstance(a, str) and len(a) == 36 and a.count("-") == 4)


@pytest.mark.parametrize("service_key,operation,count_sql", WRITES, ids=[w[1] for w in WRITES])
def test_replayed_write_applies_once(lab_postgres, service_key, operation, count_sql):
    parsed = settings.parse(_env(lab_postgres))
    service = load_service(service_key, parsed)
    session = Session(parsed.connect_kwargs(service_key), threading.Event())
    rng = random.Random(7)
    try:
        session.transaction(service.prepare)
        for _ in range(200):   # an operation of that kind that actually writes (approvals for scoring)
            op = service.next_operation(rng)
            if op.name != operation:
                continue
            first, _ = session.transaction(op.run, *op.args)
            if first.get("replayed") is False and (operation != "score_application" or first.get("account_id")):
                break
        else:
            pytest.fail(f"no {operation} that writes in 200 tries")
        key = _key_of(op)
        second, _ = session.transaction(op.run, *op.args)   # the retry after an unknown COMMIT outcome
        assert second.get("replayed") is True, second
        conn = lab_postgres.connect(topology.SUPERUSER, topology.DATABASE)
        try:
            with conn.cursor() as cur:
                cur.execute(count_sql, (key,))
                assert cur.fetchone()[0] == 1
            assert invariant_violations(conn) == []
        finally:
            conn.close()
    finally:
        session.close()
