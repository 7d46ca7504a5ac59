"""The Datadog half as code: monitors and a dashboard exist only with both keys, through an explicit
provider for the stack's site, with secret keys, queries Datadog accepts on published metrics only,
and the Prometheus rules' thresholds."""
import json
import re
from pathlib import Path

import pytest
import yaml

from components import alerts
from components.render import datadog as agent_render, datadog_monitors as render, prometheus
from components.settings import ConfigError
from tests.engine import datadog_check
from tests.unit import datadog_query, harness
from tests.unit.conftest import API_KEY
from workload.credit_workload import settings as workload_settings

APP_KEY = "dd-app-key-fedcba9876543210"
MONITOR = "datadog:index/monitor:Monitor"
DASHBOARD = "datadog:index/dashboardJson:DashboardJson"
PROVIDER = "pulumi:providers:datadog"
PUBLISHED = {line.strip() for line in (Path(__file__).parent / "fixtures" / "datadog_postgres_metrics.txt")
             .read_text().splitlines() if line.strip() and not line.startswith("#")}
# APM trace metrics of a span name (docs.datadoghq.com/tracing/metrics/metrics_namespace):
# trace.<SPAN_NAME>.hits, .errors, and the distribution trace.<SPAN_NAME> for percentiles. Which span
# names exist is what the workload sends: integration/test_real_lab_datadog.py checks the names
# against the spans the Agent received.
TRACE_METRIC = re.compile(r"^trace\.[a-z][a-z0-9_.]*[a-z0-9_](\.hits|\.errors)?$")
STACK_TAG = f"{harness.PROJECT}-{harness.STACK}"


@pytest.fixture(scope="module")
def monitors_run():
    return harness.run_program(config={"ddSite": "datadoghq.eu"}, secret={"ddApiKey": API_KEY, "ddAppKey": APP_KEY})


def _datadog_resources(run):
    return [r.urn for r in run.resources if r.type.startswith(("datadog:", PROVIDER))]


def test_nothing_of_datadog_is_declared_without_an_application_key(default_run, datadog_run):
    for run in (default_run, datadog_run):
        assert _datadog_resources(run) == []
        assert "datadogDashboardUrl" not in run.outputs and "datadogMonitorIds" not in run.outputs


def test_an_application_key_without_an_api_key_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as failure:
        harness.run_program(secret={"ddAppKey": APP_KEY})
    message = str(failure.value)
    assert "credit-lab:ddAppKey" in message and "ddApiKey" in message, message
    assert APP_KEY not in message


def test_the_provider_is_explicit_for_the_site_with_both_keys_secret(monitors_run):
    (provider,) = monitors_run.of_type(PROVIDER)
    assert provider.inputs["apiUrl"] == "https://api.datadoghq.eu/", provider.urn
    assert provider.inputs["apiKey"] == API_KEY and provider.inputs["appKey"] == APP_KEY, provider.urn
    for key in (API_KEY, APP_KEY):
        for r in monitors_run.resources:
            assert harness.leaks(r.raw, key) == [], f"{r.urn} holds a key in plain text"
    children = monitors_run.of_type(MONITOR) + monitors_run.of_type(DASHBOARD)
    assert children and all(r.provider.startswith(provider.urn + "::") for r in children), \
        [r.urn for r in children if not r.provider.startswith(provider.urn)]


def _monitors(run) -> dict:
    return {r.name.removeprefix("datadog-monitors-"): r for r in run.of_type(MONITOR)}


def test_a_monitor_per_alert_with_a_datadog_signal_and_two_per_service(monitors_run):
    names = set(_monitors(monitors_run))
    database = {a.name for a in alerts.ALERTS if a.datadog}
    services = {f"{workload_settings.service_name(k)}-{kind}" for k in workload_settings.SERVICES
                for kind in ("p95-latency", "error-rate")}
    assert names == database | {render.CHECK_FAILING_KEY} | services
    assert set(monitors_run.outputs["datadogMonitorIds"].value) == names


def test_every_query_parses_and_uses_only_published_metrics(monitors_run):
    for name, monitor in _monitors(monitors_run).items():
        query = monitor.inputs["query"]
        if monitor.inputs["type"] == "service check":
            parsed = datadog_query.service_check_monitor(query)
            if name == render.CHECK_FAILING_KEY:
                # The Agent's own service check: tagged check:<name>, on the Agent's host (worker.go).
                assert parsed["check"] == datadog_check.CHECK_STATUS, monitor.urn
                assert set(parsed["over"]) == {"check:postgres", f"host:{_agent_env(monitors_run)['DD_HOSTNAME']}"}
                assert parsed["by"] == ["host", "check"], monitor.urn
                continue
            assert parsed["check"] == "postgres.can_connect", monitor.urn
            assert set(parsed["over"]) == {"env:lab", f"stack:{STACK_TAG}"}, monitor.urn
            # The API reference: "Postgres integration monitors are tagged by db, host, and port".
            assert parsed["by"] == ["db", "host", "port"], monitor.urn
            continue
        assert monitor.inputs["type"] == "query alert", monitor.urn
        parsed = datadog_query.metric_monitor(query)
        for term in parsed["terms"]:
            assert term["metric"] in PUBLISHED or TRACE_METRIC.match(term["metric"]), \
                f"{monitor.urn}: {term['metric']} is not published"
            tags = set(term["tags"].split(","))
            expected = ({"env:lab", f"service:{name.rsplit('-', 2)[0]}"} if term["metric"].startswith("trace.")
                        else {"env:lab", f"stack:{STACK_TAG}"})
            assert tags == expected, f"{monitor.urn}: scoped to {tags}"
        # Datadog requires the query's number to be the critical threshold.
        assert parsed["threshold"] == float(monitor.inputs["monitorThresholds"]["critical"]), monitor.urn


def test_monitors_carry_the_labs_tags_and_name_their_scenario(monitors_run):
    for monitor in _monitors(monitors_run).values():
        assert {"env:lab", f"stack:{STACK_TAG}", render.LAB_TAG} <= set(monitor.inputs["tags"]), monitor.urn
        assert "In the lab: " in monitor.inputs["message"] and "Look at:" in monitor.inputs["message"]
        assert "https://app.datadoghq.eu/" in monitor.inputs["message"], monitor.urn


def _rule_numbers() -> dict:
    """Alert name -> (the number its expression compares with, its `for` in seconds), from the rendered rules."""
    document = yaml.safe_load(prometheus.rule_files()["postgres.yml"])
    result = {}
    for rule in (r for g in document["groups"] for r in g["rules"] if "alert" in r):
        number = re.search(r"[<>=]=?\s*(-?[0-9.e+]+)\s*$", rule["expr"].strip()).group(1)
        result[rule["alert"]] = (float(number), prometheus.duration_seconds(rule["for"]))
    return result


def _window_s(window: str) -> int:
    value, unit = int(window[5:-1]), window[-1]
    return value * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]


@pytest.mark.parametrize("alert", [a for a in alerts.ALERTS if a.datadog], ids=lambda a: a.name)
def test_thresholds_and_windows_equal_the_prometheus_rules(monitors_run, alert):
    monitor = _monitors(monitors_run)[alert.name]
    threshold, for_s = _rule_numbers()[alert.name]
    query = monitor.inputs["query"]
    if monitor.inputs["type"] == "service check":
        # CRITICAL for as many check runs in a row as the rule's `for` lasts.
        runs = int(monitor.inputs["monitorThresholds"]["critical"])
        assert runs * alerts.CHECK_INTERVAL_S == for_s, monitor.urn
        assert datadog_query.service_check_monitor(query)["last"] > runs, monitor.urn
        return
    parsed = datadog_query.metric_monitor(query)
    if alert.name == "PostgresTransactionIdWraparound":      # Datadog counts what is left, not the age
        assert parsed["threshold"] == alerts.XID_WRAPAROUND - threshold and parsed["op"] == "<", monitor.urn
    elif alert.name == "PostgresIdleInTransaction":          # a count held above 0 for threshold + for
        assert parsed["threshold"] == 0 and _window_s(parsed["window"]) >= threshold + for_s, monitor.urn
    else:
        assert parsed["threshold"] == threshold, monitor.urn
    assert _window_s(parsed["window"]) >= for_s, monitor.urn


def test_the_dashboard_queries_parse_on_published_metrics_and_link_into_dbm(monitors_run):
    (dashboard,) = monitors_run.of_type(DASHBOARD)
    document = json.loads(dashboard.inputs["dashboard"])
    assert document["layout_type"] == "ordered" and STACK_TAG in document["title"], dashboard.urn

    def widgets(items):
        for widget in items:
            yield widget["definition"]
            yield from widgets(widget["definition"].get("widgets", []))
    definitions = list(widgets(document["widgets"]))
    queries = [request["q"] for d in definitions for request in d.get("requests", [])]
    assert len(queries) >= 10, queries
    for query in queries:
        for term in datadog_query.dashboard_request(query):
            assert term["metric"] in PUBLISHED or TRACE_METRIC.match(term["metric"]), f"{dashboard.urn}: {term['metric']}"
    notes = " ".join(d["content"] for d in definitions if d["type"] == "note")
    assert "https://app.datadoghq.eu/databases?query=env%3Alab" in notes, notes
    titles = " ".join(d.get("title", "") for d in definitions)
    for section in ("Database health", "Top statements (DBM)", "Waits and sessions", "Credit services (APM)"):
        assert section in titles, titles
    url = monitors_run.outputs["datadogDashboardUrl"].value
    assert url.startswith("https://app.datadoghq.eu/dashboard/"), url


@pytest.mark.parametrize("query", [
    "avg(last_5m):avg:postgresql.connections{env:lab} > 1",
    "percentile(last_10m):p95:trace.credit.operation{env:lab,service:credit-payments} > 0.5",
    "sum(last_5m):sum:a.b{env:lab}.as_count() / (sum:c.d{env:lab} + sum:e.f{env:lab}) > 0.1",
])
def test_the_grammar_check_accepts_datadog_forms(query):
    assert datadog_query.metric_monitor(query)["terms"]


@pytest.mark.parametrize("query", [
    "avg(5m):avg:postgresql.connections{env:lab} > 1",                 # window without last_
    "avg(last_5m):postgresql.connections{env:lab} > 1",                # no space aggregation
    "avg(last_5m):avg:postgresql.connections{env:lab}",                # no comparison
    "avg(last_5m):avg:postgresql.connections{env:lab} / > 1",          # dangling operator
    "avg(last_5m):(avg:postgresql.connections{env:lab} > 1",           # unbalanced parenthesis
    "percentile(last_5m):avg:trace.x{env:lab} > 1",                    # percentile without pXX
    "avg(last_5m):avg:postgresql.connections{env lab} > 1",            # tag without key:value
])
def test_the_grammar_check_rejects_what_datadog_would(query):
    with pytest.raises(ValueError):
        datadog_query.metric_monitor(query)


def test_the_agent_check_tags_and_collects_what_the_monitors_read(monitors_run):
    """The database monitors filter on env and stack: the Agent's check instance must put both on
    its metrics, and collect the activity metrics (off by default in the check) they read."""
    agent = monitors_run.containers()["datadog-agent-container"]
    labels = {label["label"]: label["value"] for label in agent.inputs["labels"]}
    (instance,) = json.loads(labels[agent_render.CHECKS_LABEL])["postgres"]["instances"]
    activity = {"postgresql.activity.xact_start_age", "postgresql.transactions.idle_in_transaction",
                "postgresql.active_waiting_queries"}
    used = set()
    for monitor in _monitors(monitors_run).values():
        if monitor.inputs["type"] == "service check":
            over = set(datadog_query.service_check_monitor(monitor.inputs["query"])["over"])
            if monitor.name.endswith(render.CHECK_FAILING_KEY):   # the Agent's own check, not the instance's
                assert over == {"check:postgres", f"host:{_agent_env(monitors_run)['DD_HOSTNAME']}"}, monitor.urn
            else:
                assert over <= set(instance["tags"]), monitor.urn
            continue
        for term in datadog_query.metric_monitor(monitor.inputs["query"])["terms"]:
            used.add(term["metric"])
            if term["metric"].startswith("postgresql."):
                assert set(term["tags"].split(",")) <= set(instance["tags"]), (monitor.urn, instance["tags"])
    assert activity <= used and instance.get("collect_activity_metrics") is True, agent.urn


@pytest.mark.parametrize("query,ok", [
    ('"postgres.can_connect".over("env:lab").last(5).by("db","host","port").count_by_status()', True),
    ('"postgres.can_connect".over("env:lab").last(5).count_by_status()', False),             # no group
    ('"postgres.can_connect".over().last(5).by("host").count_by_status()', False),           # blank over
    ('"postgres.can_connect".over("env:lab").last(101).by("host").count_by_status()', False),  # count > 100
])
def test_the_service_check_grammar(query, ok):
    if ok:
        assert datadog_query.service_check_monitor(query)["by"] == ["db", "host", "port"]
    else:
        with pytest.raises(ValueError):
            datadog_query.service_check_monitor(query)


# ---- each monitor means what its Prometheus rule means (issue 19) --------------------------------
PROMTOOL_TESTS = Path(__file__).resolve().parents[2] / "configs" / "prometheus" / "tests" / "postgres_test.yml"
# Datadog's metric monitor docs: with an above condition `min` means every point in the window is
# above the threshold, `max` at least one; for a below condition the two swap roles.
HOLDS_FOR_THE_WINDOW = {">": "min", ">=": "min", "<": "max", "<=": "max"}
# Where the rule itself aggregates a range, the monitor may aggregate the window the same way.
RANGE_AGGREGATIONS = {"avg": "avg_over_time(", "sum": "increase("}


def _rule_expressions() -> dict:
    document = yaml.safe_load(prometheus.rule_files()["postgres.yml"])
    return {r["alert"]: r["expr"] for g in document["groups"] for r in g["rules"] if "alert" in r}


def _promtool_labels() -> dict:
    """Alert name -> the labels promtool's own rule tests expect it to fire with (the real promtool
    checks them in tests/integration/test_prometheus_rules.py): a datname label means per database."""
    found = {}
    for test in yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            for fired in case.get("exp_alerts") or []:
                found.setdefault(case["alertname"], set()).update(set(fired["exp_labels"]) - {"severity"})
    return found


def _query_monitors(held_only: bool) -> list:
    return [m for m in render.database_monitors("lab", STACK_TAG, "app.datadoghq.eu", "agent-host")
            if m.type == "query alert" and (alerts.BY_NAME[m.key].for_s or not held_only)]


@pytest.mark.parametrize("monitor", _query_monitors(held_only=True), ids=lambda m: m.key)
def test_a_monitor_fires_only_when_its_condition_held_the_whole_window(monitor):
    parsed = datadog_query.metric_monitor(monitor.query)
    allowed = {HOLDS_FOR_THE_WINDOW[parsed["op"]]}
    allowed |= {aggr for aggr, form in RANGE_AGGREGATIONS.items() if form in _rule_expressions()[monitor.key]}
    assert parsed["time"] in allowed, (
        f"{monitor.key}: {parsed['time']}(...) {parsed['op']} fires before the rule's `for` has held "
        f"(allowed: {sorted(allowed)}): {monitor.query}")


@pytest.mark.parametrize("monitor", _query_monitors(held_only=False), ids=lambda m: m.key)
def test_a_monitor_is_per_database_exactly_where_its_rule_is(monitor):
    per_database = "datname" in _promtool_labels()[monitor.key]
    for term in datadog_query.metric_monitor(monitor.query)["terms"]:
        keys = set(re.findall(r"[a-z][a-z0-9_.]*", (term["by"] or "").replace(" by ", "", 1)))
        assert (keys == {"db"}) == per_database and keys <= {"db"}, (
            f"{monitor.key}: {term['metric']} grouped by {sorted(keys)}, the rule "
            f"{'per database' if per_database else 'per server'}: {monitor.query}")


def test_the_query_number_is_the_threshold_at_any_precision(monkeypatch):
    """The API rejects a monitor whose query number differs from its critical threshold: both are
    written from one number, whatever its digits (`:g` kept six)."""
    monkeypatch.setattr(alerts, "SERVICE_SLO", alerts.ServiceSlo(p95_latency_s=1.2345678, error_rate=0.012345678))
    run = harness.run_program(config={"ddSite": "datadoghq.eu"}, secret={"ddApiKey": API_KEY, "ddAppKey": APP_KEY})
    checked = 0
    for monitor in _monitors(run).values():
        if monitor.inputs["type"] == "query alert":
            number = datadog_query.metric_monitor(monitor.inputs["query"])["threshold"]
            assert number == float(monitor.inputs["monitorThresholds"]["critical"]), monitor.urn
            checked += 1
    assert checked >= 10


# ---- PostgresDown when the Agent starts while the database is down (issue 19, item 3) -------------
def _agent_env(run) -> dict:
    agent = run.containers()["datadog-agent-container"]
    return dict(env.split("=", 1) for env in agent.inputs["envs"] if isinstance(env, str) and "=" in env)


def _agent_check_runs(run) -> datadog_check.CheckRuns:
    """The postgres check of the Agent the program declares: its instance (the label) and its env."""
    agent = run.containers()["datadog-agent-container"]
    labels = {label["label"]: label["value"] for label in agent.inputs["labels"]}
    (instance,) = json.loads(labels[agent_render.CHECKS_LABEL])["postgres"]["instances"]
    env = _agent_env(run)
    return datadog_check.CheckRuns(instance, env["DD_HOSTNAME"],
                                   env.get("DD_INTEGRATION_CHECK_STATUS_ENABLED", "false").lower() == "true")


def _fires(monitor, sent: list) -> bool:
    """A service check monitor over what the Agent sent (Datadog docs, Service Check Monitor): the
    statuses of its check that carry every tag of .over(), grouped by the values of the .by() tags
    (a status without one of them belongs to no group), each group on its own: it alerts once its
    last `critical` statuses are CRITICAL, warns once its last `warning` (when set) are WARNING or
    worse, resolves once its last `ok` are OK, and otherwise keeps its state. Only the statuses the
    query's .last(N) keeps count. No status at all: no data, silent. True when a group is alerting."""
    parsed = datadog_query.service_check_monitor(monitor.inputs["query"])
    thresholds = {k: int(v) for k, v in monitor.inputs["monitorThresholds"].items()}
    groups: dict[tuple, list[int]] = {}
    for name, status, tags in sent:
        values = dict(tag.split(":", 1) for tag in tags)
        if name == parsed["check"] and set(parsed["over"]) <= tags and all(k in values for k in parsed["by"]):
            groups.setdefault(tuple(values[k] for k in parsed["by"]), []).append(status)
    alerting = False
    for statuses in groups.values():
        state = datadog_check.OK
        for end in range(1, len(statuses) + 1):
            last = statuses[max(0, end - parsed["last"]):end]
            if len(last) >= thresholds["critical"] and all(s == datadog_check.CRITICAL
                                                            for s in last[-thresholds["critical"]:]):
                state = datadog_check.CRITICAL
            elif "warning" in thresholds and len(last) >= thresholds["warning"] and \
                    all(s >= datadog_check.WARNING for s in last[-thresholds["warning"]:]):
                state = datadog_check.WARNING
            elif len(last) >= thresholds.get("ok", 1) and all(s == datadog_check.OK for s in last[-thresholds.get("ok", 1):]):
                state = datadog_check.OK
        alerting |= state == datadog_check.CRITICAL
    return alerting


CAN_CONNECT_MONITOR, CHECK_FAILING_MONITOR = "PostgresDown", render.CHECK_FAILING_KEY


@pytest.mark.parametrize("case,before,during,expected", [
    ("down as the Agent starts", 0, "down", {CHECK_FAILING_MONITOR}),
    ("down while the Agent runs", 3, "down", {CAN_CONNECT_MONITOR, CHECK_FAILING_MONITOR}),
    ("up all along", 3, "up", set()),
    ("up, the check warning of a missing setup step", 3, "warned", set()),
])
def test_postgres_down_fires_however_the_agent_started(monitors_run, case, before, during, expected):
    """The check validates its connection in its initializations, before check() sends
    postgres.can_connect: an Agent started while PostgreSQL is down sends none, and only the
    check-failing monitor can fire; down while the Agent runs, both fire; up, neither, even when
    the check reports a warning (the Agent's check status is then WARNING, not CRITICAL)."""
    down = [m for m in _monitors(monitors_run).values() if "alert:PostgresDown" in m.inputs["tags"]]
    by_key = {(CHECK_FAILING_MONITOR if datadog_check.CHECK_STATUS in m.inputs["query"] else CAN_CONNECT_MONITOR): m
              for m in down}
    assert len(down) == 2 and set(by_key) == {CAN_CONNECT_MONITOR, CHECK_FAILING_MONITOR}, [m.name for m in down]
    runs = max(datadog_query.service_check_monitor(m.inputs["query"])["last"] for m in by_key.values())
    check = _agent_check_runs(monitors_run)
    sent = [s for _ in range(before) for s in check.run(reachable=True)]
    sent += [s for _ in range(runs) for s in check.run(reachable=during != "down", warned=during == "warned")]
    fired = {key for key, monitor in by_key.items() if _fires(monitor, sent)}
    assert fired == expected, f"{case}: {sorted(fired)} fire, expected {sorted(expected)}"


@pytest.mark.parametrize("query,sent,fires", [
    # grouped: two hosts, one failing: that group alerts
    ('"c".over("env:a").last(3).by("host").count_by_status()',
     [("c", 2, {"env:a", "host:x"})] * 2 + [("c", 0, {"env:a", "host:y"})] * 2, True),
    # the failures spread over two groups: neither has two in a row
    ('"c".over("env:a").last(3).by("host").count_by_status()',
     [("c", 2, {"env:a", "host:x"}), ("c", 2, {"env:a", "host:y"})], False),
    # recovered by an OK (ok threshold 1)
    ('"c".over("env:a").last(3).by("host").count_by_status()',
     [("c", 2, {"env:a", "host:x"})] * 2 + [("c", 0, {"env:a", "host:x"})], False),
    # statuses of other tags (.over) do not count
    ('"c".over("env:a").last(3).by("host").count_by_status()', [("c", 2, {"env:b", "host:x"})] * 3, False),
    # warnings are not CRITICAL
    ('"c".over("env:a").last(3).by("host").count_by_status()', [("c", 1, {"env:a", "host:x"})] * 3, False),
])
def test_the_service_check_model_groups_and_resolves(query, sent, fires):
    class Monitor:
        inputs = {"query": query, "monitorThresholds": {"critical": 2, "ok": 1}}
    assert _fires(Monitor, sent) is fires


# ---- the APM error-rate monitors, evaluated (issue 26, item 1) -------------------------------------
def test_the_evaluator_gives_datadogs_worked_example():
    """Datadog's guide "as_count() in Monitor Evaluations": errors 1..5 over totals of 10 in five
    points are 0.3 on the as_count path (sums, then the division) and 1.5 on the classic path."""
    events = {"error": [(60.0 * i, float(i)) for i in range(1, 6)], "total": [(60.0 * i, 10.0) for i in range(1, 6)]}
    points = lambda term: events[term["metric"].rsplit(".", 1)[1]]   # noqa: E731
    as_count = "sum(last_5m):sum:requests.error{*}.as_count() / sum:requests.total{*}.as_count() > 0.25"
    classic = "sum(last_5m):sum:requests.error{*}.as_rate() / sum:requests.total{*}.as_rate() > 0.25"
    assert datadog_query.evaluate(as_count, points, now_s=300) == (pytest.approx(0.3), True)
    assert datadog_query.evaluate(classic, points, now_s=300) == (pytest.approx(1.5), True)


def _error_rate_monitors() -> list:
    monitors = [m for m in render.service_monitors("lab", STACK_TAG, "app.datadoghq.com") if m.key.endswith("-error-rate")]
    assert len(monitors) == len(workload_settings.SERVICES), [m.key for m in monitors]
    return monitors


@pytest.mark.parametrize("monitor", _error_rate_monitors(), ids=lambda m: m.key)
def test_an_error_rate_monitor_sums_errors_over_hits_and_fires_above_its_threshold(monitor):
    """Direction, aggregation and term order: the share of the window's operations that failed
    (errors first, over hits, each summed as counts), above the SLO's rate fires, below it or with
    no error does not; without operations there is no data."""
    parsed = datadog_query.metric_monitor(monitor.query)
    assert parsed["time"] == "sum" and parsed["op"] == ">", monitor.query
    assert [t["metric"].rsplit(".", 1)[1] for t in parsed["terms"]] == ["errors", "hits"], monitor.query
    assert all(t["aggr"] == "sum" and t["fn"] == ".as_count()" for t in parsed["terms"]), monitor.query
    rate, window = alerts.SERVICE_SLO.error_rate, datadog_query.window_seconds(parsed["window"])

    def evaluate(hits: int, errors: int):
        # operations spread over the window, the failing ones among them; APM stats carry an errors
        # count (0 or more) beside the hits of each bucket
        events = {"hits": [(window * i / hits, 1.0) for i in range(hits)],
                  "errors": [(window * i / hits, 1.0 if i < errors else 0.0) for i in range(hits)]}
        return datadog_query.evaluate(monitor.query, lambda t: events[t["metric"].rsplit(".", 1)[1]], now_s=window)
    assert evaluate(1000, int(1000 * rate) + 10)[1], "more failures than the SLO allows did not fire"
    assert not evaluate(1000, int(1000 * rate) - 10)[1], "fewer failures than the SLO allows fired"
    assert evaluate(1000, 0) == (0.0, False)
    assert evaluate(0, 0) == (None, False)
