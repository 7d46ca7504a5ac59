"""Image tags: each inside the line its configuration is written for, or refused (test_settings.py);
what follows from a tag reaches the containers; Pulumi.yaml promises exactly the supported lines."""
import pytest
import yaml

from components import settings as lab_settings, versions
from components.render import grafana
from tests.unit import harness

ACCEPTED = [
    ("postgresImage", "postgres:15.9-alpine3.20", (15, 9)),
    ("postgresImage", "registry.example:5000/library/postgres:15.18-alpine", (15, 18)),
    ("datadogAgentImage", "gcr.io/datadoghq/agent:7.63.0", (7, 63, 0)),
    ("datadogAgentImage", "datadog/agent:7.84.2-jmx", (7, 84, 2)),
    ("datadogAgentImage", "gcr.io/datadoghq/agent:7.84.2-linux-jmx", (7, 84, 2)),
    ("datadogAgentImage", "gcr.io/datadoghq/agent:7.100.1", (7, 100, 1)),
    ("exporterImage", "quay.io/prometheuscommunity/postgres-exporter:v0.17.0", (0, 17, 0)),
    ("prometheusImage", "prom/prometheus:v2.53.1", (2, 53, 1)),
    ("grafanaImage", "grafana/grafana:12.0.0-security-01", (12, 0, 0)),
]


@pytest.mark.parametrize("key", list(versions.LINES))
def test_the_declared_default_is_inside_its_line(key):
    default = lab_settings.declarations()[key]["default"]
    assert versions.parse(key, default).reference == default


@pytest.mark.parametrize("key,reference,version", ACCEPTED, ids=[r for _, r, _ in ACCEPTED])
def test_tags_inside_the_line_are_accepted_with_their_version(key, reference, version):
    run = harness.run_program(config={key: reference}, secret={"ddApiKey": "test-key"})  # with the Agent
    pulled = [r.inputs["name"] for r in run.of_type("docker:index/remoteImage:RemoteImage")]
    assert reference in pulled, pulled
    assert versions.parse(key, reference).version == version


@pytest.mark.parametrize("key", list(versions.LINES))
def test_the_description_promises_the_supported_line(key):
    """A description may only promise what the program enforces: the line, word for word."""
    description = lab_settings.declarations()[key]["description"]
    assert versions.LINES[key].supported in description, f"Pulumi.yaml {key}: {description!r}"


@pytest.mark.parametrize("tag", ["v2.53.3", "v2.53.1"])
def test_grafana_declares_the_prometheus_version_the_stack_runs(tag):
    run = harness.run_program(config={"prometheusImage": f"prom/prometheus:{tag}"})
    container = run.containers()["grafana-container"]
    (upload,) = [u for u in container.inputs["uploads"] if u["file"] == grafana.DATASOURCES_FILE]
    declared = yaml.safe_load(upload["content"])["datasources"][0]["jsonData"]["prometheusVersion"]
    assert declared == tag.lstrip("v"), container.urn
