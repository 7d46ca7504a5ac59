"""Every monitor and the dashboard, as the datadog provider sends them, loaded into Datadog's own
API client models (datadog-api-client) with type checking: an unknown monitor type, widget type or
enum value, a missing required field, or a key the API does not define fails the test.

What this proves next to tests/unit/datadog_query.py (the query grammar check): the models know the
payload's shape (fields, types, enums, widget kinds) but treat a query as a string; the grammar
check reads inside the queries. Both are needed (tests/CONTRACTS.md).
"""
import json

import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.model_utils import ModelComposed, ModelNormal, OpenApiModel
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor

from components import alerts
from tests.unit import harness
from workload.credit_workload import settings as workload_settings
from tests.unit.conftest import API_KEY

APP_KEY = "dd-app-key-fedcba9876543210"
CLIENT = ApiClient(Configuration())

# datadog_monitor's arguments -> the API's Monitor body (terraform-provider-datadog
# `datadog/resource_datadog_monitor.go`, buildMonitorStruct: top-level fields, and `options` built
# from the option arguments). An argument the program sets that is not here fails the test.
TOP_LEVEL = {"name": "name", "type": "type", "query": "query", "message": "message", "tags": "tags"}
OPTIONS = {"includeTags": "include_tags", "notifyNoData": "notify_no_data", "requireFullWindow": "require_full_window",
           "noDataTimeframe": "no_data_timeframe", "renotifyInterval": "renotify_interval"}


def api_monitor(inputs: dict) -> dict:
    body, options = {}, {}
    for key, value in inputs.items():
        if key in TOP_LEVEL:
            body[TOP_LEVEL[key]] = value
        elif key in OPTIONS:
            options[OPTIONS[key]] = value
        elif key == "monitorThresholds":
            options["thresholds"] = {name: float(number) for name, number in value.items()}
        else:
            raise AssertionError(f"monitor argument {key!r} has no mapping to the API body here: add it from "
                                 "the provider's buildMonitorStruct before relying on it")
    return {**body, "options": options}


def model_problems(value, path: str = "$") -> list[str]:
    """Where a deserialized model does not match its schema: values the client could not parse
    (`_unparsed`: an unknown enum or oneOf member) and keys the model does not define."""
    found = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += model_problems(item, f"{path}[{i}]")
        return found
    if not isinstance(value, OpenApiModel):
        return found
    if getattr(value, "_unparsed", False):
        found.append(f"{path}: not a valid {type(value).__name__}")
    if isinstance(value, ModelComposed):
        inner = value.get_oneof_instance()
        return found + (model_problems(inner, path) if inner is not None else [f"{path}: no {type(value).__name__} matches"])
    if isinstance(value, ModelNormal):
        for key, item in value._data_store.items():
            if key not in type(value).attribute_map:
                found.append(f"{path}.{key}: not a field of {type(value).__name__}")
            found += model_problems(item, f"{path}.{key}")
    return found


def load(payload: dict, model: type) -> list[str]:
    try:
        return model_problems(CLIENT.deserialize(json.dumps(payload), (model,), True))
    except Exception as error:  # noqa: BLE001 - a type or required-field error is the finding
        return [f"{type(error).__name__}: {error}"]


@pytest.fixture(scope="module")
def monitors_run():
    return harness.run_program(config={"ddSite": "datadoghq.eu"}, secret={"ddApiKey": API_KEY, "ddAppKey": APP_KEY})


def test_every_monitor_loads_into_datadogs_monitor_model(monitors_run):
    monitors = monitors_run.of_type("datadog:index/monitor:Monitor")
    # One per alert with a Datadog signal, PostgresDown's check-failing half, two per service: 21.
    assert len(monitors) == sum(a.datadog for a in alerts.ALERTS) + 1 + 2 * len(workload_settings.SERVICES) == 21
    for monitor in monitors:
        assert load(api_monitor(monitor.inputs), Monitor) == [], monitor.urn


def test_the_dashboard_loads_into_datadogs_dashboard_model(monitors_run):
    (dashboard,) = monitors_run.of_type("datadog:index/dashboardJson:DashboardJson")
    assert load(json.loads(dashboard.inputs["dashboard"]), Dashboard) == [], dashboard.urn


@pytest.mark.parametrize("payload, model", [
    ({"type": "query alert-ish", "query": "q", "name": "n", "message": "m"}, Monitor),
    ({"query": "q", "name": "n"}, Monitor),
    ({"type": "query alert", "query": "q", "name": "n", "options": {"thresholds": {"critical": 1}, "bogus": 1}}, Monitor),
    ({"title": "t", "layout_type": "ordered", "widgets": [{"definition": {"type": "sparkline", "requests": []}}]},
     Dashboard),
    ({"title": "t", "layout_type": "ordered",
      "widgets": [{"definition": {"type": "timeseries", "requests": [{"q": "a", "display_type": "pie"}]}}]}, Dashboard),
    ({"title": "t", "layout_type": "ordered", "widgets": [{"definition": {"type": "note", "content": "x", "colour": 1}}]},
     Dashboard),
])
def test_the_models_refuse_what_the_api_would(payload, model):
    assert load(payload, model), payload
