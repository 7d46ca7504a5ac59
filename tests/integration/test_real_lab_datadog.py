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

import psycopg2
import pytest

from components import topology
from tests.integration import real_lab
from workload.credit_workload import settings as workload_settings

API_KEY = "0123456789abcdef0123456789abcdef"
# Datadog's Docker install (docs: "Docker Agent" and "Docker log collection", Linux): these host
# paths read-only, the host's cgroup and PID namespaces.
DOCUMENTED_BINDS = {"/var/run/docker.sock:/var/run/docker.sock:ro", "/proc/:/host/proc/:ro",
                    "/sys/fs/cgroup/:/host/sys/fs/cgroup:ro",
                    "/var/lib/docker/containers:/var/lib/docker/containers:ro"}
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
