"""What each container runs and receives is exactly what the renderers produce: the very flags and
files the integration tests run natively."""
import pytest

from components import settings as lab_settings, topology, versions
from components.render import exporter, grafana, postgres, prometheus
from tests.unit.conftest import CUSTOM
from tests.unit.test_secrets import env_of


def uploaded(container):
    return {u["file"]: u["content"] for u in container.inputs.get("uploads", [])}


def upload_modes(container):
    """path -> the `permissions` each upload declares (none may be left to the provider's default)."""
    return {u["file"]: u.get("permissions") for u in container.inputs.get("uploads", [])}


@pytest.mark.parametrize("name", ["postgres-container", "prometheus-container", "grafana-container"])
def test_every_upload_declares_its_mode(default_run, name):
    container = default_run.containers()[name]
    modes = upload_modes(container)
    assert modes and all(mode in ("0644", "0755") for mode in modes.values()), f"{container.urn}: {modes}"


def test_postgres_runs_the_rendered_server_flags_and_init_scripts(default_run):
    container = default_run.containers()["postgres-container"]
    assert container.inputs["command"] == postgres.container_command(), container.urn
    assert container.inputs.get("entrypoints") == postgres.container_entrypoint(), container.urn
    expected = {u.path: u.content for u in postgres.container_uploads()}
    assert uploaded(container) == expected, container.urn
    assert upload_modes(container) == {u.path: f"{u.mode:04o}" for u in postgres.container_uploads()}, container.urn
    assert container.inputs["healthcheck"]["tests"] == postgres.healthcheck_command(), container.urn
    assert env_of(container)[topology.SEED_CUSTOMERS_ENV] == "100000", container.urn


def test_init_scripts_are_the_repo_files(default_run):
    container = default_run.containers()["postgres-container"]
    files = uploaded(container)
    scripts = sorted(p for p in files if p.startswith(postgres.INITDB_DIR + "/"))
    assert scripts, f"{container.urn}: no init scripts uploaded"
    for path in scripts:
        source = postgres.INITDB_SOURCE_DIR / path[len(postgres.INITDB_DIR) + 1:]
        assert files[path] == source.read_text(), f"{container.urn}: {path} differs from {source}"


def test_exporter_runs_the_rendered_flags_and_env(default_run):
    container = default_run.containers()["postgres-exporter-container"]
    assert container.inputs["command"] == exporter.flags(), container.urn
    env = env_of(container)
    for key, value in exporter.env(topology.POSTGRES_ALIAS, topology.POSTGRES_PORT).items():
        assert env[key] == value, container.urn


def test_prometheus_gets_the_rendered_config_and_rules(custom_run):
    container = custom_run.containers()["prometheus-container"]
    files = uploaded(container)
    assert files[prometheus.CONFIG_PATH] == prometheus.config(
        CUSTOM["scrapeInterval"], f"{topology.EXPORTER_ALIAS}:{topology.EXPORTER_PORT}"), container.urn
    rules = {p.rsplit("/", 1)[1]: c for p, c in files.items() if p.startswith(prometheus.RULES_DIR + "/")}
    assert rules == prometheus.rule_files() and rules, container.urn
    assert container.inputs["command"] == prometheus.args(), container.urn


def test_grafana_gets_the_rendered_provisioning_and_dashboards(custom_run):
    container = custom_run.containers()["grafana-container"]
    prometheus_version = versions.parse("prometheusImage", lab_settings.declarations()["prometheusImage"]["default"])
    expected = grafana.files(f"http://{topology.PROMETHEUS_ALIAS}:{topology.PROMETHEUS_PORT}",
                             CUSTOM["scrapeInterval"], prometheus_version.text)
    assert uploaded(container) == expected, container.urn
    env = env_of(container)
    for key, value in grafana.env().items():
        assert env[key] == value, container.urn


def test_outputs(custom_run, default_run):
    expected = {"grafanaUrl", "prometheusUrl", "exporterUrl", "postgresDsn", "grafanaAdminPassword",
                "networkName", "datadogDbmUrl"}
    assert set(custom_run.outputs) == expected
    assert set(default_run.outputs) == expected - {"datadogDbmUrl"}
    # 0.0.0.0 binds every interface; the printed URLs point at localhost.
    assert custom_run.outputs["grafanaUrl"].value == f"http://localhost:{CUSTOM['grafanaPort']}"
    assert custom_run.outputs["prometheusUrl"].value == f"http://localhost:{CUSTOM['prometheusPort']}"
    assert custom_run.outputs["exporterUrl"].value == f"http://localhost:{CUSTOM['exporterPort']}/metrics"
    assert custom_run.outputs["postgresDsn"].value.endswith(f"@localhost:{CUSTOM['postgresPort']}/creditdb")
    assert default_run.outputs["networkName"].value == "credit-lab-dev-net"


def test_healthchecks_are_the_renderers(default_run):
    containers = default_run.containers()
    for name, module in (("postgres-exporter-container", exporter), ("prometheus-container", prometheus),
                         ("grafana-container", grafana)):
        assert containers[name].inputs["healthcheck"]["tests"] == module.healthcheck(), containers[name].urn


def test_workload_env_is_the_workload_renderer(datadog_run):
    from components.settings import declarations
    from workload.credit_workload import settings as ws
    container = datadog_run.containers()["workload-container"]
    env = env_of(container)
    env.pop(ws.ENV_PGPASSWORD)
    config = declarations()
    assert env == ws.render_env(
        host=topology.POSTGRES_ALIAS, port=topology.POSTGRES_PORT, dbname=topology.DATABASE,
        user=topology.WORKLOAD_ROLE, rate=config["workloadRate"]["default"],
        services=tuple(config["workloadServices"]["default"].split(",")),
        scenario=config["workloadScenario"]["default"], dd_env=config["ddEnv"]["default"],
        agent_host=topology.AGENT_ALIAS), container.urn
