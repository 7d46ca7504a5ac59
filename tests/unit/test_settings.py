"""Bad settings fail before any resource is declared, with one message naming key, value and rule."""
import pulumi
import pytest

from components import settings as lab_settings
from components.settings import ConfigError
from workload.credit_workload import settings as ws
from tests.unit import harness

INVALID = [
    # (config, key, value shown, words of the allowed values)
    ({"postgresPort": "70000"}, "postgresPort", "70000", "1 to 65535"),
    ({"grafanaPort": "0"}, "grafanaPort", "0", "1 to 65535"),
    ({"exporterPort": "abc"}, "exporterPort", "abc", "whole number"),
    ({"grafanaPort": "9091"}, "grafanaPort", "9091", "already used by prometheusPort"),
    ({"bindAddress": "localhost"}, "bindAddress", "localhost", "IPv4 or IPv6 address"),
    ({"bindAddress": "300.1.1.1"}, "bindAddress", "300.1.1.1", "IPv4 or IPv6 address"),
    ({"ddSite": "datadog.com"}, "ddSite", "datadog.com", "datadoghq.eu"),
    ({"ddEnv": "Lab Env"}, "ddEnv", "Lab Env", "Datadog tag value"),
    ({"scrapeInterval": "10 seconds"}, "scrapeInterval", "10 seconds", "Prometheus duration"),
    ({"scrapeInterval": "500ms"}, "scrapeInterval", "500ms", "from 1s to 5m"),
    ({"scrapeInterval": "1h"}, "scrapeInterval", "1h", "from 1s to 5m"),
    ({"seedCustomers": "10"}, "seedCustomers", "10", "1000 to 2000000"),
    ({"workloadRate": "-5"}, "workloadRate", "-5", "ops/s between"),
    ({"workloadRate": "fast"}, "workloadRate", "fast", "ops/s between"),
    ({"workloadServices": "payments,lending"}, "workloadServices", "payments,lending", "collections"),
    ({"workloadScenario": "chaos"}, "workloadScenario", "chaos", "lock-contention"),
    # Image tags outside the line each image's configuration is written and tested for
    # (components/versions.py): wrong major or flavour, too old, untested, or no exact tag.
    ({"grafanaImage": "grafana/grafana:latest"}, "grafanaImage", "grafana/grafana:latest", "Grafana 12"),
    ({"grafanaImage": "grafana/grafana:11.6.0"}, "grafanaImage", "grafana/grafana:11.6.0", "Grafana 12"),
    ({"grafanaImage": "grafana/grafana:12.2.1-ubuntu"}, "grafanaImage", "grafana/grafana:12.2.1-ubuntu",
     "not the -ubuntu flavour"),
    ({"postgresImage": "postgres"}, "postgresImage", "postgres", "PostgreSQL 15 on alpine"),
    ({"postgresImage": "postgres:16.4-bookworm"}, "postgresImage", "postgres:16.4-bookworm",
     "PostgreSQL 15 on alpine"),
    ({"postgresImage": "postgres:16.4-alpine"}, "postgresImage", "postgres:16.4-alpine", "PostgreSQL 15 on alpine"),
    ({"postgresImage": "postgres:15.18-bookworm"}, "postgresImage", "postgres:15.18-bookworm",
     "PostgreSQL 15 on alpine"),
    ({"postgresImage": "postgres:15-alpine"}, "postgresImage", "postgres:15-alpine", "15.<minor>-alpine"),
    ({"datadogAgentImage": "gcr.io/datadoghq/agent:7.10.0"}, "datadogAgentImage",
     "gcr.io/datadoghq/agent:7.10.0", "Agent 7.63 or newer"),
    ({"datadogAgentImage": "gcr.io/datadoghq/agent:7.62.3"}, "datadogAgentImage",
     "gcr.io/datadoghq/agent:7.62.3", "Agent 7.63 or newer"),
    ({"datadogAgentImage": "gcr.io/datadoghq/agent:7.84.2-servercore"}, "datadogAgentImage",
     "gcr.io/datadoghq/agent:7.84.2-servercore", "Windows image"),
    ({"datadogAgentImage": "gcr.io/datadoghq/agent:6.53.0"}, "datadogAgentImage",
     "gcr.io/datadoghq/agent:6.53.0", "Agent 7.63 or newer"),
    ({"exporterImage": "quay.io/prometheuscommunity/postgres-exporter:v0.18.1"}, "exporterImage",
     "quay.io/prometheuscommunity/postgres-exporter:v0.18.1", "postgres_exporter 0.17"),
    ({"prometheusImage": "prom/prometheus:v3.0.0"}, "prometheusImage", "prom/prometheus:v3.0.0", "Prometheus 2.53"),
    ({"prometheusImage": "prom/prometheus:v2.45.0"}, "prometheusImage", "prom/prometheus:v2.45.0",
     "Prometheus 2.53"),
]


@pytest.mark.parametrize("config,key,value,allowed", INVALID, ids=[case[1] + "=" + case[2] for case in INVALID])
def test_invalid_setting_fails_before_any_resource(monkeypatch, config, key, value, allowed):
    registered = []
    original = harness.RecordingMonitor.RegisterResource

    def spy(self, request):
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(harness.RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(ConfigError) as failure:
        harness.run_program(config=config)
    message = str(failure.value)
    assert f"credit-lab:{key} = {value!r}" in message, message
    assert allowed in message, message
    assert isinstance(failure.value, pulumi.RunError), "a RunError prints without a traceback"
    assert [t for t in registered if t != "pulumi:pulumi:Stack"] == [], f"resources declared: {registered}"


@pytest.mark.parametrize("interval", ["1s", "5m", "1m30s"])
def test_scrape_interval_bounds_are_inclusive(interval):
    run = harness.run_program(config={"scrapeInterval": interval})
    container = run.containers()["prometheus-container"]
    assert f"scrape_interval: {interval}" in str(container.inputs["uploads"]), container.urn


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as failure:
        harness.run_program(config={"postgresPort": "0", "ddSite": "nowhere", "workloadScenario": "x"})
    message = str(failure.value)
    for key in ("postgresPort", "ddSite", "workloadScenario"):
        assert f"credit-lab:{key}" in message, message


def test_ipv6_bind_address_is_accepted_and_bracketed_in_urls():
    run = harness.run_program(config={"bindAddress": "::1"})
    assert run.outputs["grafanaUrl"].value == "http://[::1]:3001"


def test_workload_knobs_reach_the_container_normalised():
    run = harness.run_program(config={"workloadServices": "payments, applications", "workloadRate": "55.5",
                                      "workloadScenario": "slow-query"})
    container = run.containers()["workload-container"]
    env = dict(e.split("=", 1) for e in container.inputs["envs"])
    assert env["WORKLOAD_SERVICES"] == "applications,payments", container.urn
    assert env["WORKLOAD_RATE"] == "55.5" and env["WORKLOAD_SCENARIO"] == "slow-query", container.urn


def _promises() -> dict[str, list[str]]:
    """What each description may promise, rendered from the rules the program enforces."""
    lo, hi = lab_settings.SCRAPE_RANGE_SECONDS
    return {
        "ddSite": [", ".join(lab_settings.DD_SITES)],
        "seedCustomers": [f"{lab_settings.SEED_RANGE[0]} to {lab_settings.SEED_RANGE[1]}"],
        "scrapeInterval": [f"from {lo}s to {hi // 60}m"],
        "workloadRate": [f"{ws.MIN_RATE:g} to {ws.MAX_RATE:g}", ws.RATE_UNPACED],
        "workloadServices": [", ".join(ws.SERVICES)],
        "workloadScenario": [", ".join(ws.SCENARIOS)],
    }


@pytest.mark.parametrize("key", list(_promises()))
def test_each_description_promises_what_the_program_enforces(key):
    description = lab_settings.declarations()[key]["description"]
    for promise in _promises()[key]:
        assert promise in description, f"Pulumi.yaml {key}: {description!r} does not say {promise!r}"
