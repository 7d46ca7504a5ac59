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
AGENT = f"{real_lab.PREFIX}-{topology.AGENT_ALIAS}"
WORKLOAD = f"{real_lab.PREFIX}-{topology.WORKLOAD_ALIAS}"
TRACE_DEADLINE_S = real_lab.TRACE_DEADLINE_S


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
    real_lab.check_a_traced_statement_reached_the_intake(lab.output("postgresDsn"), topology.WORKLOAD_ROLE,
                                                         lambda query: _intake(lab, query))


def _service_entry_spans(traces: list) -> list[dict]:
    """The spans Datadog computes trace metrics from: each trace's top-level spans, those whose
    parent is not in the trace or belongs to another service (datadog-agent
    pkg/trace/traceutil/span.go ComputeTopLevel; APM docs, "service entry span")."""
    found = []
    for trace in traces:
        by_id = {span["span_id"]: span for span in trace}
        found += [span for span in trace if (parent := by_id.get(span.get("parent_id"))) is None
                  or parent["service"] != span["service"]]
    return found


def _term_events(term: dict, spans: list, steady: dict | None, window_start_s: float) -> list:
    """A trace-metric term's points from the spans: `trace.<name>.hits` one per service-entry span
    of that name and of the term's tags (env, service), `.errors` its error flag (0 or 1). With
    `steady` (term metric -> (count, seconds) measured under steady load), the part of the window
    before the first such span is filled at that steady rate: the value a lab up for the whole
    window would give."""
    span_name, _, kind = term["metric"].removeprefix("trace.").rpartition(".")
    tags = dict(tag.split(":", 1) for tag in term["tags"].split(","))
    points = [(s["start"] / 1e9, float(kind == "hits" or bool(s.get("error")))) for s in spans
              if s["name"] == span_name and s["service"] == tags["service"] and s["meta"].get("env") == tags["env"]]
    if steady and points:
        count, seconds = steady[(term["metric"], term["tags"])]
        first = min(t for t, _ in points)
        filled = int((first - window_start_s) * count / seconds) if first > window_start_s else 0
        points += [(window_start_s + i * (first - window_start_s) / max(filled, 1), 1.0 if kind == "hits" else 0.0)
                   for i in range(filled)] if count else []
    return points


def _evaluate(lab, steady: dict | None = None) -> dict:
    """Each error-rate monitor's own query, evaluated over what the Agent's intake received:
    {monitor key: (value, fires)}."""
    spans = _service_entry_spans(_intake(lab))
    now_s = time.time()
    results = {}
    for monitor in _error_monitors():
        window_start = now_s - datadog_query.window_seconds(datadog_query.metric_monitor(monitor.query)["window"])
        results[monitor.key] = datadog_query.evaluate(
            monitor.query, lambda term: _term_events(term, spans, steady, window_start), now_s)
    return results


def _steady_rates(lab) -> dict:
    """Each error-rate term's count and the seconds it covers, under steady load."""
    spans = _service_entry_spans(_intake(lab))
    now_s, rates = time.time(), {}
    for monitor in _error_monitors():
        for term in datadog_query.metric_monitor(monitor.query)["terms"]:
            points = _term_events(term, spans, None, 0.0)
            assert points, f"{monitor.key}: no {term['metric']} under steady load"
            rates[(term["metric"], term["tags"])] = (sum(n for _, n in points), now_s - min(t for t, _ in points))
    return rates


def _error_monitors() -> list:
    env = declarations()["ddEnv"]["default"]
    found = [m for m in monitors_render.service_monitors(env, real_lab.PREFIX, "app.datadoghq.com")
             if m.key.endswith("-error-rate")]
    assert len(found) == len(workload_settings.SERVICES), [m.key for m in found]
    return found


def test_the_trace_metrics_the_monitors_read_are_the_ones_the_spans_make(lab):
    """Datadog names trace metrics after the service-entry spans' names (trace.<name>.hits,
    .errors, and trace.<name> for percentiles): every trace metric a monitor or the dashboard reads
    is one of those the workload's spans give."""
    def names():
        return {span["name"] for span in _service_entry_spans(_intake(lab))} or None
    made = {f"trace.{name}{suffix}" for name in real_lab.wait_for("service-entry spans at the Agent", names,
                                                                  TRACE_DEADLINE_S)
            for suffix in ("", ".hits", ".errors")}
    env = declarations()["ddEnv"]["default"]
    queries = [m.query for m in monitors_render.monitors(env, real_lab.PREFIX, "app.datadoghq.com", "agent")]
    read = {term["metric"] for query in queries if not query.startswith('"')
            for term in datadog_query.metric_monitor(query)["terms"] if term["metric"].startswith("trace.")}
    read |= {term["metric"] for request in _dashboard_requests(env) for term in datadog_query.dashboard_request(request)
             if term["metric"].startswith("trace.")}
    assert read, "no monitor or dashboard reads a trace metric"
    assert read <= made, f"read but made by no span: {sorted(read - made)} (spans make {sorted(made)})"


def _dashboard_requests(env: str) -> list[str]:
    board = monitors_render.dashboard(env, real_lab.PREFIX, "app.datadoghq.com")
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("q"), str):
                found.append(node["q"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(board)
    return found


def test_each_error_rate_monitor_fires_after_the_outage_its_message_names(lab):
    """Issue 19 and 26: each service's error-rate monitor, its own query evaluated over the
    service-entry spans the Agent received (each term's windowed count, summed as .as_count() makes
    Datadog sum, the query's arithmetic, operator and number; the part of the window before the lab
    started filled at the steady rate): under steady load every monitor has data and none fires;
    after PostgreSQL is stopped for as long as the monitors' message says, every one fires."""
    real_lab.wait_for("spans of every service at the Agent",
                      lambda: len({s["service"] for s in _service_entry_spans(_intake(lab))})
                      >= len(workload_settings.SERVICES), TRACE_DEADLINE_S)
    steady_rates = _steady_rates(lab)
    steady = _evaluate(lab, steady_rates)
    assert len(steady) == len(workload_settings.SERVICES), steady
    assert all(value is not None for value, _ in steady.values()), f"no data under steady load: {steady}"
    assert not any(fires for _, fires in steady.values()), f"fired under steady load: {steady}"
    outage = monitors_render.error_outage_s()
    monitors = _error_monitors()
    assert all(f"for {outage} s or more" in m.message for m in monitors)
    database = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    database.stop()
    stopped = time.monotonic()
    threading.Event().wait(outage)   # the outage itself: its length is what is being tested
    database.start()
    real_lab.wait_healthy(database.name, database)
    back = time.monotonic() - stopped

    def all_fire():   # the services' spans of the outage reach the intake within a few flushes
        results = _evaluate(lab, steady_rates)
        return results if all(fires for _, fires in results.values()) else None
    results = real_lab.wait_for(f"every error-rate monitor firing after {back:.0f} s down", all_fire, TRACE_DEADLINE_S)
    print(f"\nerror-rate monitors after {back:.0f} s without PostgreSQL: "
          + ", ".join(f"{key} {value:.1%}" for key, (value, _) in sorted(results.items())))


def test_without_the_key_the_agent_goes_and_the_workload_runs_untraced(lab):
    """Removing the key removes the Agent; the workload is replaced without DD_AGENT_HOST, each of
    its five services says at start that tracing is off (service.py's start line), and they commit
    with no error."""
    lab.stack.remove_config("ddApiKey")
    lab.outputs = lab.stack.up(color="never").outputs
    containers = lab.containers()
    assert AGENT not in containers
    workload = containers[WORKLOAD]
    assert "DD_AGENT_HOST" not in "\n".join(workload.attrs["Config"]["Env"])
    real_lab.wait_healthy(WORKLOAD, workload)
    logs = workload.logs().decode(errors="replace")
    services = {workload_settings.service_name(key) for key in workload_settings.SERVICES}
    tracing = dict(re.findall(r"(credit-[a-z]+): scenario \S+, target \S+ ops/s, tracing (on|off)", logs))
    assert tracing == {service: "off" for service in services}, f"tracing as the services logged it: {tracing}"
    reports = re.findall(r"^(credit-[a-z]+)\s+ops/s=\S+ ok=(\d+) errors=(\d+)", logs, re.M)
    assert {service for service, _, _ in reports} == services, logs[-2000:]
    assert all(errors == "0" for _, _, errors in reports), logs[-2000:]
    assert sum(int(ok) for _, ok, _ in reports) > 0, "no operation committed untraced"
    assert "Traceback" not in logs, logs[-2000:]
