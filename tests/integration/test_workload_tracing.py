"""Traced workload against a real ddapm-test-agent: five services under their own names, psycopg2
spans with DBM injection, and the traceparent PostgreSQL sees belongs to a trace the agent got.
Each service is its own process, so DBM's calling service (ddps) is per service too. Untraced,
ddtrace is not loaded."""
import re
import time

import pytest
from credit_workload import settings

from components import topology
from tests.integration.containers import wait_for
from tests.integration.workload_support import TestAgent, WorkloadRun, run_image_once, workload_env

# ddtrace flushes every second; the test agent decodes and stores each payload as it arrives.
TRACE_STORE_TIMEOUT_S = 15

COMMENT = re.compile(r"/\*(?P<body>[^*]*traceparent='00-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-\d\d'[^*]*)\*/")


@pytest.fixture
def test_agent(lab_postgres):
    agent = TestAgent(lab_postgres.network).start()
    try:
        yield agent
    finally:
        agent.stop()


def _sample_activity(pg, seconds: float) -> list[tuple[str, str]]:
    """(application_name, query) of the workload's backends, sampled from pg_stat_activity."""
    seen = []
    conn = pg.connect(topology.SUPERUSER, topology.DATABASE)
    conn.autocommit = True      # (not `with conn:`: in psycopg2 2.9 that opens a transaction = one snapshot)
    try:
        deadline = time.monotonic() + seconds
        with conn.cursor() as cur:
            while time.monotonic() < deadline:
                # Transactions are short: poll tightly (COMMIT and BEGIN are not commented by ddtrace).
                cur.execute("SELECT application_name, query FROM pg_stat_activity WHERE usename = %s "
                            "AND query <> '' AND query NOT IN ('BEGIN', 'COMMIT', 'ROLLBACK')",
                            (topology.WORKLOAD_ROLE,))
                seen.extend(cur.fetchall())
    finally:
        conn.close()
    return seen


def test_services_traced_with_dbm_propagation(lab_postgres, test_agent):
    # The stack has a Datadog key: the program points the workload at the Agent's alias, where
    # the test agent answers.
    env = workload_env(WORKLOAD_RATE=40, DD_VERSION="9.9.9", WORKLOAD_LOG_LEVEL="debug")
    run = WorkloadRun(lab_postgres, env, traced=True).start()
    try:
        run.wait_reports(per_service=1, services=5, timeout=40)
        activity = _sample_activity(lab_postgres, 6)
    finally:
        code, _ = run.stop()
    assert code == 0, run.stderr()[-3000:]
    expected_services = {settings.service_name(k) for k in settings.SERVICES}

    def every_service_stored():   # the agent stores the exit flush asynchronously
        traces = test_agent.traces()
        roots = {s["service"] for t in traces for s in t if s.get("parent_id") in (0, None)}
        return traces if expected_services <= roots else None
    traces = wait_for(every_service_stored, TRACE_STORE_TIMEOUT_S, "every service's traces stored")
    spans = [s for t in traces for s in t]

    # 1. A root span per business operation, under each service's own name, with unified tags.
    roots = [s for s in spans if s.get("parent_id") in (0, None)]
    by_service = {s["service"] for s in roots}
    assert {settings.service_name(k) for k in settings.SERVICES} <= by_service, by_service
    for root in roots:
        assert root["name"] == settings.ROOT_SPAN and root["resource"] == root["meta"].get("credit.operation"), root
        assert root["meta"].get("env") == run.env["DD_ENV"] and root["meta"].get("version") == "9.9.9"

    # 2. psycopg2 spans carry the DBM injection tag.
    sql_spans = [s for s in spans if s.get("type") == "sql" and s["name"] == "postgres.query"]
    assert sql_spans and all(s["meta"].get("_dd.dbm_trace_injected") == "true" for s in sql_spans)

    # 3. The traceparent PostgreSQL saw is the trace (and span) of what the agent received; the
    #    comment names the calling service = the backend's application_name, for every service.
    assert activity, "no commented statement seen in pg_stat_activity"
    received = {(s["trace_id"], s["span_id"]) for s in spans}
    high_bits = {s["meta"].get("_dd.p.tid") for s in spans}
    matched, services_in_dbm = 0, set()
    for app, query in activity:
        m = COMMENT.search(query)
        assert m, query
        ddps = re.search(r"ddps='([^']*)'", m["body"]).group(1)
        assert ddps == app, (ddps, app)
        services_in_dbm.add(ddps)
        low, span = int(m["trace"][16:], 16), int(m["span"], 16)
        if (low, span) in received and m["trace"][:16] in high_bits:
            matched += 1
    assert matched > 0, "no traceparent seen by PostgreSQL matches a span the test agent received"
    assert services_in_dbm == {settings.service_name(k) for k in settings.SERVICES}, services_in_dbm

    # 4. Log lines about an operation carry the trace id of its root span (128-bit hex, as ddtrace logs it).
    root_ids = {f"{r['meta'].get('_dd.p.tid', '0' * 16)}{r['trace_id']:016x}" for r in roots}
    op_lines = [line for line in run.stderr().splitlines() if " done in " in line]
    assert op_lines, run.stderr()[-2000:]
    logged = [re.search(r"dd\.trace_id=([0-9a-f]{32})", line) for line in op_lines]
    assert all(logged), [line for line, m in zip(op_lines, logged) if not m][:3]
    assert sum(m.group(1) in root_ids for m in logged) > 0.9 * len(logged)


@pytest.mark.parametrize("enabled", [False, True], ids=["tracing-off", "tracing-on"])
def test_the_tracer_is_loaded_only_when_tracing_is_on(enabled):
    """Without an Agent (DD_TRACE_ENABLED=false) a service does not load ddtrace: patched but
    disabled, it would still wrap every connection and cursor call (issue 11's profile) and add
    no DBM comment. With tracing on, psycopg2 is patched before the services import it."""
    code = ("import os, sys\nfrom credit_workload import settings, tracing\n"
            "tracing.setup(settings.parse(os.environ), 'credit-payments')\nimport psycopg2\n"
            "print('ddtrace' in sys.modules, hasattr(psycopg2.connect, '__wrapped__'))")
    env = {"PGPASSWORD": "unused", "DD_TRACE_ENABLED": "true" if enabled else "false"}
    result = run_image_once(env, argv=["python", "-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [str(enabled), str(enabled)], result.stdout
