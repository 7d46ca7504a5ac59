"""Grafana's provisioning files and dashboard, checked against Grafana's documented formats.

Grafana does not run here. Formats: grafana.com/docs/grafana/latest/administration/provisioning/
(data sources: apiVersion 1, `datasources` list; dashboards: `providers` list with
`options.path`) and the dashboard JSON model (grafana.com/docs/grafana/latest/dashboards/
build-dashboards/view-dashboard-json-model/).
"""
import json

import pytest
import yaml

from components import settings as lab_settings, topology, versions
from components.render import grafana, prometheus
from components.render.dashboards import postgresql
from tests.integration import program

# The Prometheus version of the default stack: what its datasource declares.
PROMETHEUS_VERSION = versions.parse("prometheusImage", lab_settings.declarations()["prometheusImage"]["default"]).text

# Keys Grafana's provisioning documentation lists for each entry.
DATASOURCE_KEYS = {"name", "type", "access", "orgId", "uid", "url", "user", "database", "basicAuth",
                   "basicAuthUser", "withCredentials", "isDefault", "jsonData", "secureJsonData",
                   "version", "editable"}
PROVIDER_KEYS = {"name", "orgId", "folder", "folderUid", "type", "disableDeletion",
                 "updateIntervalSeconds", "allowUiUpdates", "options"}
PROVIDER_OPTION_KEYS = {"path", "foldersFromFilesStructure"}
PANEL_TYPES = {"row", "stat", "timeseries", "table"}


@pytest.fixture(scope="module")
def files():
    """What the default stack uploads into the Grafana container."""
    uploads = program.container_inputs(program.stack(), topology.GRAFANA_ALIAS)["uploads"]
    return {upload["file"]: upload["content"] for upload in uploads}


def _dashboards(files):
    return {path: json.loads(text) for path, text in files.items() if path.endswith(".json")}


def test_files_land_where_the_image_reads_them(files):
    provider = yaml.safe_load(files[grafana.DASHBOARDS_FILE])["providers"][0]
    for path in files:
        assert path.startswith("/"), path
    datasource_files = [p for p in files if p.startswith("/etc/grafana/provisioning/datasources/")]
    provider_files = [p for p in files if p.startswith("/etc/grafana/provisioning/dashboards/")]
    assert datasource_files == [grafana.DATASOURCES_FILE] and provider_files == [grafana.DASHBOARDS_FILE]
    assert all(p.endswith(".yaml") for p in datasource_files + provider_files)
    dashboards = _dashboards(files)
    assert dashboards and all(p.startswith(provider["options"]["path"] + "/") for p in dashboards)
    assert grafana.env()["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] in dashboards


def test_datasource_file_follows_the_documented_format(files):
    document = yaml.safe_load(files[grafana.DATASOURCES_FILE])
    assert set(document) == {"apiVersion", "datasources"} and document["apiVersion"] == 1
    (source,) = document["datasources"]
    assert set(source) <= DATASOURCE_KEYS, set(source) - DATASOURCE_KEYS
    assert source["uid"] == grafana.DATASOURCE_UID and source["type"] == "prometheus"
    assert source["access"] == "proxy" and source["url"] == "http://prometheus:9090"
    assert source["jsonData"]["timeInterval"] == lab_settings.declarations()["scrapeInterval"]["default"]
    assert source["jsonData"]["prometheusVersion"] == PROMETHEUS_VERSION
    # Grafana expands $VAR in provisioning files: nothing of ours may look like one.
    assert "$" not in files[grafana.DATASOURCES_FILE]


@pytest.mark.parametrize("interval", ["1s", "15s", "1m"])
def test_time_interval_follows_the_scrape_interval(interval):
    text = grafana.files("http://prometheus:9090", interval, PROMETHEUS_VERSION)[grafana.DATASOURCES_FILE]
    assert yaml.safe_load(text)["datasources"][0]["jsonData"]["timeInterval"] == interval


@pytest.mark.parametrize("url,interval", [("prometheus:9090", "10s"), ("http://prometheus:9090", "10")])
def test_bad_input_is_refused_with_the_setting_named(url, interval):
    with pytest.raises(ValueError, match="prometheus_url|scrapeInterval"):
        grafana.files(url, interval, PROMETHEUS_VERSION)


def test_dashboard_provider_follows_the_documented_format(files):
    document = yaml.safe_load(files[grafana.DASHBOARDS_FILE])
    assert set(document) == {"apiVersion", "providers"} and document["apiVersion"] == 1
    (provider,) = document["providers"]
    assert set(provider) <= PROVIDER_KEYS, set(provider) - PROVIDER_KEYS
    assert provider["type"] == "file" and set(provider["options"]) <= PROVIDER_OPTION_KEYS
    assert "$" not in files[grafana.DASHBOARDS_FILE]


def _datasource_refs(node):
    """Every `datasource` object anywhere in the dashboard JSON."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def test_dashboards_reference_only_the_provisioned_datasource(files):
    for path, board in _dashboards(files).items():
        text = files[path]
        # Exported dashboards with __inputs/${DS_…} break under file provisioning (grafana#10786).
        assert "__inputs" not in board and "DS_" not in text
        variables = {v["name"]: v for v in board["templating"]["list"]}
        chooser = variables["datasource"]
        assert chooser["type"] == "datasource" and chooser["query"] == "prometheus"
        assert chooser["current"]["value"] == grafana.DATASOURCE_UID
        assert chooser["regex"] == f"/^{grafana.DATASOURCE_NAME}$/"
        refs = list(_datasource_refs(board))
        assert refs
        for ref in refs:
            assert ref == {"type": "prometheus", "uid": "${datasource}"} or ref == {
                "type": "prometheus", "uid": grafana.DATASOURCE_UID}, ref


def test_dashboard_json_model(files):
    board = json.loads(files[grafana.POSTGRESQL_DASHBOARD])
    assert board["uid"] == postgresql.UID and board["title"] == "Credit Lab — PostgreSQL"
    assert "id" not in board or board["id"] is None
    panels = board["panels"]
    ids = [p["id"] for p in panels]
    assert ids and len(set(ids)) == len(ids) and all(isinstance(i, int) and i > 0 for i in ids)
    for panel in panels:
        assert panel["type"] in PANEL_TYPES
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24 and pos["h"] > 0
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["targets"]
        for target in panel["targets"]:
            assert target["expr"] and target["refId"]
        if panel["type"] == "stat":
            assert panel["options"]["reduceOptions"]["calcs"] == ["lastNotNull"]
        if panel["type"] == "timeseries":
            assert panel["options"]["legend"]["showLegend"] is True
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"datasource", "database"}
    assert variables["database"]["current"]["value"] == topology.DATABASE


def test_dashboard_covers_what_a_dba_looks_at_first(files):
    board = json.loads(files[grafana.POSTGRESQL_DASHBOARD])
    titles = " | ".join(p["title"].lower() for p in board["panels"])
    for topic in ["postgresql", "exporter", "version", "uptime", "commits and rollbacks", "sessions by state",
                  "sessions by application", "locks by mode", "cache hit ratio", "tuples", "temporary",
                  "deadlocks", "database size", "top statements by total time", "top statements by calls",
                  "long-running transactions", "wal"]:
        assert topic in titles, topic


def test_grafana_env_turns_anonymous_viewers_on_and_holds_no_secret():
    env = grafana.env()
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_ANALYTICS_REPORTING_ENABLED"] == "false"
    assert not any("PASSWORD" in key or "SECRET" in key for key in env)


def test_same_input_renders_the_same_bytes():
    # The component uploads these: stable output keeps `pulumi up` from replacing Grafana for nothing.
    assert grafana.files("http://p:9090", "10s", "2.53.3") == grafana.files("http://p:9090", "10s", "2.53.3")
    assert prometheus.config("10s", "e:9187") == prometheus.config("10s", "e:9187")
