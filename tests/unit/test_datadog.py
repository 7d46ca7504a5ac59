"""The Datadog Agent exists only with an API key, runs DBM on the credit database, receives traces."""
import json

import pytest

from components import topology
from components.render import datadog as render
from tests.unit.conftest import API_KEY
from tests.unit.test_secrets import env_of


def test_no_agent_without_api_key(default_run):
    found = [r.urn for r in default_run.resources if "DatadogAgent" in r.urn or "datadog-agent" in r.name]
    assert found == [], f"agent declared without ddApiKey: {found}"
    assert "datadogDbmUrl" not in default_run.outputs


def test_agent_env(datadog_run):
    agent = datadog_run.containers()["datadog-agent-container"]
    env = env_of(agent)
    assert env[render.API_KEY_ENV] == API_KEY, agent.urn
    expected = {"DD_SITE": "datadoghq.eu", "DD_APM_ENABLED": "true", "DD_APM_NON_LOCAL_TRAFFIC": "true",
                "DD_DOGSTATSD_NON_LOCAL_TRAFFIC": "true", "DD_ENV": "lab", "DD_HOSTNAME": "credit-lab-dev"}
    assert {k: env.get(k) for k in expected} == expected, agent.urn


def test_agent_host_mounts_are_read_only(datadog_run):
    agent = datadog_run.containers()["datadog-agent-container"]
    mounts = {(v["hostPath"], v["containerPath"], v.get("readOnly")) for v in agent.inputs["volumes"] if "hostPath" in v}
    assert mounts == {("/var/run/docker.sock", "/var/run/docker.sock", True), ("/proc/", "/host/proc/", True),
                      ("/sys/fs/cgroup/", "/host/sys/fs/cgroup", True),
                      ("/var/lib/docker/containers", "/var/lib/docker/containers", True)}, agent.urn


def test_postgres_check_with_dbm_on_credit_database(datadog_run):
    agent = datadog_run.containers()["datadog-agent-container"]
    labels = {label["label"]: label["value"] for label in agent.inputs["labels"]}
    checks = json.loads(labels[render.CHECKS_LABEL])
    (instance,) = checks["postgres"]["instances"]
    assert instance["dbm"] is True and instance["dbname"] == topology.DATABASE, agent.urn
    assert (instance["host"], instance["port"]) == (topology.POSTGRES_ALIAS, topology.POSTGRES_PORT), agent.urn
    assert instance["username"] == topology.DATADOG_ROLE, agent.urn
    # The password is a template variable resolved from the Agent's env, which holds it as a secret.
    assert instance["password"] == f"%%env_{render.POSTGRES_PASSWORD_ENV}%%", agent.urn
    assert render.POSTGRES_PASSWORD_ENV in env_of(agent), agent.urn
    assert "env:lab" in instance["tags"]
    postgres = datadog_run.containers()["postgres-container"]
    assert instance["reported_hostname"] == postgres.inputs["name"], f"{agent.urn}: DBM host name not stack-unique"


def test_postgres_logs_are_labelled_for_collection(datadog_run):
    postgres = datadog_run.containers()["postgres-container"]
    labels = {label["label"]: label["value"] for label in postgres.inputs["labels"]}
    (config,) = json.loads(labels[render.LOGS_LABEL])
    assert (config["source"], config["service"]) == ("postgresql", render.POSTGRES_SERVICE), postgres.urn
    (rule,) = config["log_processing_rules"]
    assert rule["type"] == "multi_line", postgres.urn


def test_dbm_url_is_built_for_the_site(datadog_run):
    assert datadog_run.outputs["datadogDbmUrl"].value == "https://app.datadoghq.eu/databases?query=env%3Alab"


@pytest.mark.parametrize("fixture,traced", [("default_run", False), ("datadog_run", True)])
def test_workload_traces_to_agent_only_when_there_is_one(request, fixture, traced):
    run = request.getfixturevalue(fixture)
    workload = run.containers()["workload-container"]
    env = env_of(workload)
    assert env["DD_TRACE_ENABLED"] == ("true" if traced else "false"), workload.urn
    assert env["DD_DBM_PROPAGATION_MODE"] == "full", workload.urn
    if traced:
        assert env["DD_AGENT_HOST"] == topology.AGENT_ALIAS, workload.urn  # ddtrace's default port: APM_PORT
        agent = run.containers()["datadog-agent-container"]
        assert agent.urn in workload.dependencies, f"{workload.urn} starts before the agent"
    else:
        assert "DD_TRACE_AGENT_URL" not in env and "DD_AGENT_HOST" not in env, workload.urn
