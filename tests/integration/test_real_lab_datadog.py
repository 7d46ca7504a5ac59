"""With `ddApiKey`, on the real Pulumi CLI and Docker Engine (issue 18, item 4).

The Agent is its stand-in image (README, "What stands in": the Agent's user, volumes and probe,
Datadog's test agent taking traces on 8126), so what is proven is everything around the Agent: it
is created with Datadog's documented Docker flags and mounts, the five services' traces reach it
over its network alias, the statements PostgreSQL runs carry a traceparent whose trace reached it,
and removing the key removes it while the workload goes on untraced, without errors.
"""
from __future__ import annotations

import json
import re
import threading
import time

import psycopg2
import pytest

from components import topology
from components.render import datadog_monitors as monitors_render
from components.settings import declarations
from tests.engine import datadog_check
from tests.integration import real_lab
from tests.unit import datadog_query
from workload.credit_workload import settings as workload_settings

API_KEY = "0123456789abcdef0123456789abcdef"
# Datadog's Docker install: its host paths read-only, the host's cgroup and PID namespaces.
DOCUMENTED_BINDS = {f"{host}:{inside}:ro" for host, inside in datadog_check.DOCKER_INSTALL_BINDS.items()}
TRACEPARENT = re.compile(r"traceparent='00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}'")
AGENT = f"{real_lab.PREFIX}-{topology.AGENT_ALIAS}"
WORKLOAD = f"{real_lab.PREFIX}-{topology.WORKLOAD_ALIAS}"
# ddtrace flushes every second; a trace reaches the intake within a few flushes.
TRACE_DEADLINE_S = 30


@pytest.fixture(scope="module")
def lab():
    with real_lab.running(secret={"ddApiKey": API_KEY}) as lab:
        yield lab


def _intake(lab, query: str = "") -> list:
    """What the Agent's trace intake received (the test agent's /test/traces), read inside it."""
    agent = lab.containers()[AGENT]
    result = agent.exec_run(["wget", "-q", "-O", "-", f"http://127.0.0.1:8126/test/traces{query}"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_agent_runs_as_datadogs_docker_install(lab):
    agent = lab.containers()[AGENT]
    real_lab.wait_healthy(AGENT, agent)
    host = agent.attrs["HostConfig"]
    assert (host["CgroupnsMode"], host["PidMode"]) == ("host", "host")
    assert DOCUMENTED_BINDS <= set(host["Binds"]), host["Binds"]
    env = dict(entry.split("=", 1) for entry in agent.attrs["Config"]["Env"])
    assert env["DD_API_KEY"] == API_KEY and env["DD_APM_NON_LOCAL_TRAFFIC"] == "true"


def test_each_services_traces_reach_the_agent_by_its_alias(lab):
    expected = {workload_settings.service_name(key) for key in workload_settings.SERVICES}

    def services_seen():
        roots = {span["service"] for trace in _intake(lab) for span in trace
                 if span["name"] == workload_settings.ROOT_SPAN}
        return roots if roots >= expected else None
    real_lab.wait_for("root spans of every service at the Agent", services_seen, TRACE_DEADLINE_S)


def test_a_statement_the_database_runs_carries_a_trace_that_reached_the_agent(lab):
    with psycopg2.connect(lab.output("postgresDsn"), connect_timeout=10) as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE usename = %s AND query LIKE %s",
                       (topology.WORKLOAD_ROLE, "%traceparent=%"))
        statements = [row[0] for row in cursor.fetchall()]
    assert statements, "no statement of the workload carries a traceparent"
    trace_id, _ = TRACEPARENT.search(statements[0]).groups()
    # The span's trace_id is the low 64 bits of the W3C trace id (the high ones travel in _dd.p.tid).
    low = int(trace_id[16:], 16)
    trace = real_lab.wait_for(f"trace {trace_id} at the Agent",
                      lambda: _intake(lab, f"?trace_ids={low}")[0], TRACE_DEADLINE_S)
    assert any(span["meta"].get("_dd.p.tid") == trace_id[:16] for span in trace), trace[0]


def _counts(monitor, spans: list, now_s: float) -> dict:
    """An error-rate monitor's two terms over the root spans the intake received, as Datadog derives
    trace metrics (APM docs, metrics namespace): `trace.<span>.hits` counts the spans of that name
    of the query's env and service, `.errors` those with error set, over the query's window; and how
    much of that window the lab has been up for (its first span)."""
    parsed = datadog_query.metric_monitor(monitor.query)
    window = int(parsed["window"][len("last_"):-1]) * {"m": 60, "h": 3600}[parsed["window"][-1]]
    found = {"window": window, "covered": 0.0}
    for term in parsed["terms"]:
        span_name, _, kind = term["metric"].removeprefix("trace.").rpartition(".")
        tags = dict(tag.split(":", 1) for tag in term["tags"].split(","))
        matching = [s for s in spans if s["name"] == span_name and s["service"] == tags["service"]
                    and s["meta"].get("env") == tags["env"] and s["start"] / 1e9 >= now_s - window]
        found[kind] = sum(1 for s in matching if kind == "hits" or s.get("error"))
        if matching:
            found["covered"] = max(found["covered"], now_s - min(s["start"] for s in matching) / 1e9)
    return found


def _error_rates(lab, steady_rates: dict | None = None) -> dict:
    """Each error-rate monitor's value now. With `steady_rates` (hits per second before the fault),
    the part of the window before the lab's first span is counted as steady, error-free traffic: the
    value a lab up for the whole window would show."""
    spans = [span for trace in _intake(lab) for span in trace]
    now_s = time.time()
    values = {}
    for monitor in _error_monitors():
        counts = _counts(monitor, spans, now_s)
        hits = counts["hits"] + (steady_rates or {}).get(monitor.key, 0.0) * (counts["window"] - counts["covered"])
        values[monitor.key] = (counts["errors"] / hits if hits else 0.0,
                               counts["hits"] / counts["covered"] if counts["covered"] else 0.0)
    return values


def _error_monitors() -> list:
    env = declarations()["ddEnv"]["default"]
    return [m for m in monitors_render.service_monitors(env, real_lab.PREFIX, "app.datadoghq.com")
            if m.key.endswith("-error-rate")]


def test_each_error_rate_monitor_crosses_after_the_outage_its_message_names(lab):
    """Issue 19: PostgreSQL stopped for as long as the monitors' message says (render.error_outage_s),
    each service's error-rate query, computed over the spans the intake received (the window before
    the lab started counted as steady traffic), crosses its threshold; under steady load before it,
    none does."""
    monitors = _error_monitors()
    threshold = monitors[0].thresholds["critical"]
    steady = _error_rates(lab)
    assert len(steady) == len(workload_settings.SERVICES), steady
    assert max(value for value, _ in steady.values()) <= threshold, steady
    steady_rates = {key: rate for key, (_, rate) in steady.items()}
    outage = monitors_render.error_outage_s()
    assert f"for {outage} s or more" in monitors[0].message
    database = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    database.stop()
    stopped = time.monotonic()
    threading.Event().wait(outage)   # the outage itself: its length is what is being tested
    database.start()
    real_lab.wait_healthy(database.name, database)
    back = time.monotonic() - stopped

    def crossed():   # the services' spans of the outage reach the intake within a few flushes
        values = {key: value for key, (value, _) in _error_rates(lab, steady_rates).items()}
        return values if min(values.values()) > threshold else None
    values = real_lab.wait_for(f"every error-rate monitor over {threshold:.0%} after {back:.0f} s down",
                               crossed, TRACE_DEADLINE_S)
    print(f"\nerror-rate monitors after {back:.0f} s without PostgreSQL: "
          + ", ".join(f"{key} {value:.1%}" for key, value in sorted(values.items())))


def test_without_the_key_the_agent_goes_and_the_workload_runs_untraced(lab):
    lab.stack.remove_config("ddApiKey")
    lab.outputs = lab.stack.up(color="never").outputs
    containers = lab.containers()
    assert AGENT not in containers
    workload = containers[WORKLOAD]
    assert "DD_AGENT_HOST" not in "\n".join(workload.attrs["Config"]["Env"])
    real_lab.wait_healthy(WORKLOAD, workload)
    logs = workload.logs().decode(errors="replace")
    reports = re.findall(r"errors=(\d+)", logs)
    assert reports and set(reports) == {"0"}, logs[-2000:]
    assert "Traceback" not in logs and "failed to send" not in logs, logs[-2000:]
