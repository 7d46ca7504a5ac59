"""Every panel of every provisioned dashboard shows live data, and alerts fire for real.

The lab's PostgreSQL, postgres_exporter 0.17.1, Prometheus 2.53.3 and workload containers run on
the real Docker Engine (tests/integration/containers.py), as the program declares them, on one network. Each panel query is expanded the way Grafana expands it and sent to Prometheus's HTTP API.
"""
import contextlib
import math
import re
import time
from dataclasses import dataclass

import pytest

from components import topology
from components.render import exporter, grafana, prometheus as prom_render
from credit_workload import settings as workload_settings
from credit_workload.services import applications, payments
from tests.integration import obs_dashboards as dashboards
from tests.integration.obs_servers import Exporter, Prometheus, Workload, wait_until

SCRAPE_INTERVAL = "1s"      # short, through the same renderer the containers use
SCRAPE_S = dashboards.seconds(SCRAPE_INTERVAL)
WORKLOAD_RATE = 40          # business operations per second, all five services
WARMUP_TIMEOUT_S = 90


@dataclass
class Stack:
    pg: object
    exporter: Exporter
    prometheus: Prometheus
    workload: Workload


def _services_seen(prom: Prometheus) -> set[str]:
    result = prom.query(f'count by (application_name) (pg_stat_activity_count{{datname="{topology.DATABASE}", '
                        f'application_name=~"{workload_settings.SERVICE_PREFIX}.*"}})')
    return {r["metric"]["application_name"] for r in result}


@pytest.fixture(scope="module")
def stack(lab_postgres):
    with contextlib.ExitStack() as cleanup:   # each stops, whatever the others raise
        exp = Exporter(lab_postgres)
        cleanup.callback(exp.stop)
        prom = Prometheus(lab_postgres, SCRAPE_INTERVAL)
        cleanup.callback(prom.stop)
        load = Workload(lab_postgres, rate=WORKLOAD_RATE)
        running = Stack(lab_postgres, exp, prom, load)
        cleanup.callback(lambda: running.workload.stop())   # the scenario test swaps in its own workload
        cleanup.callback(load.stop)
        _started(running)
        yield running


def _started(running: Stack) -> None:
    """Starts the three containers and waits until every panel's rate window is full of load."""
    prom, load = running.prometheus, running.workload
    running.exporter.start()
    prom.start()
    load.start()
    expected = {workload_settings.service_name(s) for s in workload_settings.SERVICES}
    wait_until(lambda: _services_seen(prom) >= expected and prom.query(
        f'rate(pg_stat_database_xact_commit{{datname="{topology.DATABASE}"}}[5s]) > 0'),
        WARMUP_TIMEOUT_S, "every workload service connected and committing")
    # Every rate window the panels use ($__rate_interval: 4 scrapes) full of load: wait for
    # four more scrapes of the exporter than the one that first saw every service.
    loaded_at = float(prom.query('timestamp(up{job="postgres"})')[0]["value"][1])
    wait_until(lambda: float(prom.query('timestamp(up{job="postgres"})')[0]["value"][1])
               >= loaded_at + 4 * SCRAPE_S, WARMUP_TIMEOUT_S, "four scrapes under load")
    load._check_alive()


def _provisioned_dashboards():
    files = grafana.dashboard_files()
    return {path: text for path, text in files.items() if path.endswith(".json")}


def _has_finite_value(result) -> bool:
    for series in result:
        points = series.get("values") or [series.get("value")]
        if any(p and math.isfinite(float(p[1])) for p in points):
            return True
    return False


def test_both_scrape_targets_are_up(stack):
    wait_until(lambda: stack.prometheus.targets_up() == {"postgres": "up", "prometheus": "up"}, 10,
               "targets up")


def test_every_panel_query_returns_data(stack):
    boards = _provisioned_dashboards()
    assert boards
    empty, checked = [], 0
    for path, text in boards.items():
        values = dashboards.variables(text)
        assert values["datasource"] == grafana.DATASOURCE_UID
        range_s = dashboards.time_range_seconds(text)
        now = time.time()
        for target in dashboards.targets(text):
            assert dashboards.datasource_uid(target, values) == grafana.DATASOURCE_UID, target
            expr, step = dashboards.expand(target.expr, values, range_s, SCRAPE_INTERVAL)
            assert "$" not in expr, expr
            if target.instant:
                result = stack.prometheus.query(expr, at=now)
            else:
                result = stack.prometheus.query_range(expr, now - range_s, now, step)
            checked += 1
            if not _has_finite_value(result):
                empty.append(f"{path.rsplit('/', 1)[1]} / {target.panel} / {target.ref_id}: {expr}")
    assert checked >= 25
    assert empty == [], "panels without data:\n" + "\n".join(empty)


def test_sessions_by_application_shows_every_workload_service(stack):
    text = _provisioned_dashboards()[grafana.POSTGRESQL_DASHBOARD]
    (target,) = [t for t in dashboards.targets(text) if t.panel == "Sessions by application"]
    expr, step = dashboards.expand(target.expr, dashboards.variables(text), 300, SCRAPE_INTERVAL)
    now = time.time()
    legends = {r["metric"].get("application_name") for r in stack.prometheus.query_range(expr, now - 60, now, step)}
    assert {workload_settings.service_name(s) for s in workload_settings.SERVICES} <= legends


def test_database_variable_offers_the_credit_database(stack):
    # label_values(pg_database_size_bytes, datname): Grafana asks the series/labels API.
    values = stack.prometheus.api("label/datname/values", **{"match[]": "pg_database_size_bytes"})
    assert topology.DATABASE in values


def test_rules_load_and_evaluate_without_errors(stack):
    groups = stack.prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {r["type"] for r in rules} == {"recording", "alerting"}
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    for record in [r["name"] for r in rules if r["type"] == "recording"]:
        assert _has_finite_value(stack.prometheus.query(record)), record


def test_steady_load_raises_no_warning(stack):
    noisy = [a["labels"]["alertname"] for a in stack.prometheus.alerts()
             if a["labels"].get("severity") in ("warning", "critical") and a["state"] == "firing"]
    assert noisy == []


def test_stat_statements_collector_succeeds_under_load(stack):
    result = stack.prometheus.query('pg_scrape_collector_success{job="postgres"}')
    failing = [r["metric"]["collector"] for r in result if r["value"][1] != "1"]
    assert failing == [] and len(result) >= len(exporter.EXTRA_COLLECTORS)


def test_prometheus_healthcheck_passes_live_and_fails_without_a_server(stack):
    from components.render import prometheus as prom_render
    assert stack.prometheus.healthcheck()
    idle = stack.prometheus.container.idle_twin()
    try:
        assert not idle.healthcheck(stack.prometheus.inputs["healthcheck"]["tests"])
    finally:
        idle.remove()
    assert "--web.enable-lifecycle" not in prom_render.args()


# Workload scenario -> the alert it must trip (configs/prometheus/rules/postgres.yml), and how long
# the scenario itself takes to build its signal once its services run (before the rule's own window
# and `for:` start to count).
SCENARIO_ALERTS = {
    # The first review holds the hot row within one hold.
    "lock-contention": ("PostgresLockWaits", payments.HOT_HOLD_SECONDS),
    # The first reviewer's transaction must grow past the rule's threshold (parsed from the rule).
    "idle-in-transaction": ("PostgresIdleInTransaction", 0.0),
    # The leaking pool grows to at most max_connections (100) at its own pace.
    "connection-storm": ("PostgresTooManyConnections", 100 / applications.STORM_OPENS_PER_SECOND),
}
# The database each alert names: the two per-database rules must name the lab's; the connection
# ratio is the server's, over every database, and names none.
ALERT_DATNAME = {"PostgresLockWaits": topology.DATABASE, "PostgresIdleInTransaction": topology.DATABASE,
                 "PostgresTooManyConnections": None}
# Service start-up (connect, prepare) and Prometheus's evaluation lag, on top of each deadline.
MARGIN_S = 30


def _rule(name: str) -> dict:
    import yaml
    for text in prom_render.rule_files().values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    return rule
    raise KeyError(name)


def fire_deadline_s(rule: dict, ramp_s: float) -> float:
    """From a scenario's start to its alert firing, at the latest: the scenario's ramp, the rule's
    range window (an average needs it filled) or, for a threshold in seconds, that threshold, then
    `for:`, a few scrapes and evaluations, and the margin."""
    windows = [dashboards.seconds(w) for w in re.findall(r"\[(\w+)\]", rule["expr"])]
    seconds_threshold = [float(v) for v in re.findall(r"_duration\b.*?\)\s*>\s*([\d.]+)", rule["expr"], re.S)]
    wait = max(windows + seconds_threshold + [0.0])
    return ramp_s + wait + dashboards.seconds(rule.get("for", "0s")) + 4 * SCRAPE_S + MARGIN_S


def clear_deadline_s(rule: dict) -> float:
    """From the scenario's end to the alert inactive: its range window emptying, a few scrapes."""
    windows = [dashboards.seconds(w) for w in re.findall(r"\[(\w+)\]", rule["expr"])]
    return max(windows + [0.0]) + 4 * SCRAPE_S + MARGIN_S


def _alert_states(prom: Prometheus, name: str) -> set[str]:
    return {a["state"] for a in prom.alerts() if a["labels"]["alertname"] == name}


def _swap_workload(stack, scenario: str) -> None:
    """What `pulumi config set workloadScenario ...` and `pulumi up` do: a new workload container."""
    stack.workload.stop()
    stack.workload = Workload(stack.pg, rate=WORKLOAD_RATE, scenario=scenario)
    stack.workload.start()


@pytest.mark.parametrize("scenario", list(SCENARIO_ALERTS))
def test_scenario_fires_its_alert_and_steady_clears_it(stack, scenario):
    """Runs last: the scenario as a config change, its alert firing within the deadline derived
    from the rule, then back to steady and the alert gone within the rule's window."""
    alert, ramp_s = SCENARIO_ALERTS[scenario]
    rule = _rule(alert)
    assert _alert_states(stack.prometheus, alert) == set(), f"{alert} is active under steady load"
    _swap_workload(stack, scenario)
    started, deadline = time.monotonic(), fire_deadline_s(rule, ramp_s)
    try:
        wait_until(lambda: stack.workload._check_alive() or "firing" in _alert_states(stack.prometheus, alert),
                   deadline, f"{alert} firing under {scenario} (deadline {deadline:.0f} s)", interval=1)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\nalerts: {stack.prometheus.alerts()}\n"
                             f"workload log:\n{stack.workload.log_text()[-2000:]}") from None
    fired_after = time.monotonic() - started
    (firing,) = [a for a in stack.prometheus.alerts() if a["labels"]["alertname"] == alert and a["state"] == "firing"]
    assert firing["labels"].get("datname") == ALERT_DATNAME[alert], firing

    with stack.pg.connect(topology.SUPERUSER, topology.DATABASE) as conn, conn.cursor() as cur:
        cur.execute("SELECT clock_timestamp()")
        (before_steady,) = cur.fetchone()
    _swap_workload(stack, "steady")
    started, deadline = time.monotonic(), clear_deadline_s(rule)
    wait_until(lambda: not _alert_states(stack.prometheus, alert), deadline,
               f"{alert} cleared under steady (deadline {deadline:.0f} s)", interval=1)
    print(f"{scenario}: {alert} fired after {fired_after:.0f} s, cleared {time.monotonic() - started:.0f} s "
          "after steady was back")
    # Nothing the scenario did is left behind: no session it opened (idle in a transaction or not)
    # outlives its container. Steady's own sessions, opened after the swap, may be anywhere in a
    # transaction at this instant: only sessions from before the swap count.
    with stack.pg.connect(topology.SUPERUSER, topology.DATABASE) as conn, conn.cursor() as cur:
        cur.execute("SELECT application_name, state, backend_start, xact_start, left(query, 80) FROM pg_stat_activity"
                    " WHERE usename = %s AND backend_start < %s", (topology.WORKLOAD_ROLE, before_steady))
        leftovers = cur.fetchall()
    assert leftovers == [], f"sessions of the {scenario} workload outlive it: {leftovers}"
