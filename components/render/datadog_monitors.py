"""The lab's Datadog monitors and dashboard, as plain data (components/datadog_monitors.py declares them).

Thresholds and windows come from components/alerts.py, the same values the Prometheus rules are
rendered with. Metric names are those the Agent's `postgres` integration publishes
(DataDog/integrations-core postgres/metadata.csv; the activity metrics need the check's
`collect_activity_metrics`, render/datadog.py) and APM's trace metrics
(docs.datadoghq.com/tracing/metrics/metrics_namespace: trace.<SPAN_NAME>.hits/.errors and the
distribution trace.<SPAN_NAME> for percentiles, tagged env, service, resource).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import quote

from components import alerts
from components.render import datadog as agent_render
from workload.credit_workload import settings as workload_settings

LAB_TAG = agent_render.LAB_TAG
TRACE_METRIC = f"trace.{workload_settings.ROOT_SPAN}"


@dataclass(frozen=True)
class Monitor:
    """One datadog.Monitor's arguments."""
    key: str                  # stable short name: the resource name and the key of the ids output
    name: str
    type: str                 # "query alert" or "service check"
    query: str
    message: str
    thresholds: dict = field(default_factory=dict)   # monitor_thresholds (critical, ...)
    tags: tuple = ()


def scope(env: str, stack: str) -> str:
    """The tag filter of the database's metrics: this lab's env and stack (the check's instance tags)."""
    return f"env:{env},stack:{stack}"


def _over(env: str, stack: str) -> str:
    """The same filter as a service check's .over(...) arguments."""
    return ",".join(f'"{tag}"' for tag in scope(env, stack).split(","))


def _db_query(alert: alerts.Alert, env: str, stack: str) -> tuple[str, str, dict]:
    """(type, query, thresholds) of the monitor that mirrors `alert`."""
    s = scope(env, stack)
    window = alert.datadog_window()
    t = alert.substitutions()["threshold"]
    if alert.name == "PostgresDown":
        # One CRITICAL postgres.can_connect per check run: `for` is that many runs in a row.
        runs = max(1, alert.for_s // alerts.CHECK_INTERVAL_S)
        # The API reference's form, grouped as it says postgres monitors are: by db, host and port.
        query = (f'"postgres.can_connect".over({_over(env, stack)}).last({runs + 1})'
                 '.by("db","host","port").count_by_status()')
        return "service check", query, {"critical": runs, "ok": 1}
    # Held for the whole window, as the rule's `for` is: every point above (`min(...) >`) or
    # every point below (`max(...) <`; Datadog's metric monitor docs: for a below condition max
    # and min swap roles). `avg`/`sum` only where the rule itself averages or sums over a range.
    # Per database (`by {db}`, the check's tag) where the rule is per datname.
    db = f"{{{s}}} by {{db}}"
    queries = {
        "PostgresTooManyConnections": f"min({window}):max:postgresql.percent_usage_connections{{{s}}} > {t}",
        "PostgresLongRunningTransaction": f"min({window}):max:postgresql.activity.xact_start_age{{{s}}} > {t}",
        "PostgresLockWaits": f"avg({window}):sum:postgresql.active_waiting_queries{db} > {t}",
        "PostgresDeadlocks": f"sum({window}):sum:postgresql.deadlocks.count{db}.as_count() > {t}",
        "PostgresHighRollbackRate": (f"min({window}):sum:postgresql.rollbacks{db} / "
                                     f"(sum:postgresql.commits{db} + sum:postgresql.rollbacks{db}) > {t}"),
        "PostgresLowCacheHitRatio": (f"max({window}):sum:postgresql.buffer_hit{db} / "
                                     f"(sum:postgresql.buffer_hit{db} + sum:postgresql.disk_read{db}) < {t}"),
    }
    if alert.name in queries:
        return "query alert", queries[alert.name], {"critical": alert.threshold}
    if alert.name == "PostgresIdleInTransaction":
        # Datadog counts idle-in-transaction sessions (no age per state): one has been idle past the
        # threshold and then `for` when the count never dropped to 0 over threshold + for.
        minutes = -(-(int(alert.threshold) + alert.for_s) // 60)
        query = f"min(last_{minutes}m):max:postgresql.transactions.idle_in_transaction{db} > 0"
        return "query alert", query, {"critical": 0}
    if alert.name == "PostgresTransactionIdWraparound":
        # Datadog reports the transactions left before wraparound, Prometheus the age: same line.
        left = alerts.XID_WRAPAROUND - int(alert.threshold)
        query = f"max({window}):min:postgresql.before_xid_wraparound{db} < {left}"
        return "query alert", query, {"critical": left}
    if alert.name == "PostgresRestarted":
        # The check's server uptime in seconds (newer than some metadata.csv snapshots; the
        # integration's own test_uptime asserts it), against the rule's `time() - start_time`.
        return "query alert", f"max({window}):min:postgresql.uptime{{{s}}} < {t}", {"critical": alert.threshold}
    raise KeyError(f"{alert.name}: no Datadog monitor defined (set datadog=False in components/alerts.py)")


def _message(alert_text: str, scenario: str, look_at: str, links: str) -> str:
    return (f"{alert_text}\n\nIn the lab: {scenario}.\n"
            f"Look at: {look_at}.\n{links}")


CHECK_STATUS = "datadog.agent.check_status"
CHECK_FAILING_KEY = "PostgresDown-check-failing"


def database_monitors(env: str, stack: str, app_host: str, agent_host: str) -> list[Monitor]:
    """One monitor per Prometheus alert that Datadog has the signal for, and PostgresDown's second
    half: the Agent's postgres check failing (`agent_host` is the Agent's DD_HOSTNAME)."""
    tags = (f"env:{env}", f"stack:{stack}", LAB_TAG)
    result = []
    for alert in alerts.ALERTS:
        if not alert.datadog:
            continue
        kind, query, thresholds = _db_query(alert, env, stack)
        message = _message(f"Mirrors the Prometheus alert {alert.name} (same threshold and window).",
                           alert.scenario, alert.look_at, f"DBM: {agent_render.dbm_url(app_host, env)}")
        result.append(Monitor(key=alert.name, name=f"[credit-lab {stack}] {alert.name}", type=kind, query=query,
                              message=message, thresholds=thresholds, tags=(*tags, f"alert:{alert.name}")))
        if alert.name == "PostgresDown":
            result.append(_check_failing(alert, stack, app_host, agent_host, tags))
    return result


def _check_failing(down: alerts.Alert, stack: str, app_host: str, agent_host: str, tags: tuple) -> Monitor:
    """PostgresDown when the Agent starts while the database is down: the check's connection is
    validated in its check_initializations, which raise before check() runs, so no
    postgres.can_connect is ever sent (integrations-core postgres/postgres.py, validate.py;
    datadog_checks_base AgentCheck.run). The Agent's own check-status service check is CRITICAL on
    every such run (render/datadog.py enables it). Also CRITICAL whenever the check raises for
    another reason, which the message says."""
    runs = max(1, down.for_s // alerts.CHECK_INTERVAL_S)
    query = (f'"{CHECK_STATUS}".over("check:postgres","host:{agent_host}").last({runs + 1})'
             '.by("host","check").count_by_status()')
    message = _message(
        f"The Agent's postgres check failed {runs} runs in a row: PostgreSQL is down or unreachable (also when it "
        "was already down as the Agent started, when PostgresDown's postgres.can_connect is never sent), or the "
        "check's configuration or the datadog role is broken (the Agent's log says which).",
        down.scenario + ", then restart the Agent container", down.look_at + "; the Agent's log (docker logs)",
        f"DBM: {agent_render.dbm_url(app_host, tags[0].removeprefix('env:'))}")
    return Monitor(key=CHECK_FAILING_KEY, name=f"[credit-lab {stack}] PostgresDown (check failing)",
                   type="service check", query=query, message=message, thresholds={"critical": runs, "ok": 1},
                   tags=(*tags, f"alert:{down.name}"))


def service_monitors(env: str, stack: str, app_host: str) -> list[Monitor]:
    """p95 latency and error rate of each credit service's operations (APM trace metrics)."""
    slo = alerts.SERVICE_SLO
    window = f"last_{slo.window_s // 60}m"
    result = []
    for key in workload_settings.SERVICES:
        service = workload_settings.service_name(key)
        s = f"env:{env},service:{service}"
        tags = (f"env:{env}", f"stack:{stack}", LAB_TAG, f"service:{service}")
        link = f"APM: {apm_url(app_host, env, service)}"
        result.append(Monitor(
            key=f"{service}-p95-latency", name=f"[credit-lab {stack}] {service} p95 latency", type="query alert",
            query=f"percentile({window}):p95:{TRACE_METRIC}{{{s}}} > {alerts.number(slo.p95_latency_s)}",
            message=_message(f"p95 of {service}'s operations is above {slo.p95_latency_s:g} s.",
                             "the lock-contention scenario (payments) or slow-query (scoring)",
                             "the slowest traces, then their SQL spans' DBM links", link),
            thresholds={"critical": slo.p95_latency_s}, tags=tags))
        result.append(Monitor(
            key=f"{service}-error-rate", name=f"[credit-lab {stack}] {service} error rate", type="query alert",
            query=(f"sum({window}):sum:{TRACE_METRIC}.errors{{{s}}}.as_count() / "
                   f"sum:{TRACE_METRIC}.hits{{{s}}}.as_count() > {alerts.number(slo.error_rate)}"),
            message=_message(f"More than {slo.error_rate:.0%} of {service}'s operations fail.",
                             "no scenario (every scenario's operations succeed): docker stop the postgres "
                             f"container for {error_outage_s()} s or more, then docker start it (the services "
                             f"retry {workload_settings.RETRY_WINDOW_S:g} s, then fail each operation at once)",
                             "error traces grouped by error.type", link),
            thresholds={"critical": slo.error_rate}, tags=tags))
    return result


def error_outage_s() -> int:
    """How long PostgreSQL must be down for the error-rate monitors to fire (the share does not
    depend on the rate; measured at the default one, test_real_lab_datadog.py): a
    service's operations first retry through its retry window (no error yet), then each fails at
    once (its circuit breaker, workload db.Session), so errors are the share of the monitor's window
    that the outage lasted past the retry window. Whole tens of seconds, plus 10 s for the traces'
    last flush."""
    slo = alerts.SERVICE_SLO
    needed = workload_settings.RETRY_WINDOW_S + slo.error_rate * slo.window_s
    return int(math.ceil(needed / 10) * 10 + 10)


def monitors(env: str, stack: str, app_host: str, agent_host: str) -> list[Monitor]:
    return database_monitors(env, stack, app_host, agent_host) + service_monitors(env, stack, app_host)


def apm_url(app_host: str, env: str, service: str) -> str:
    """The APM service page of one credit service in this env."""
    return f"https://{app_host}/apm/services/{quote(service)}?env={quote(env)}"


def _timeseries(title: str, *queries: str, display: str = "line") -> dict:
    return {"definition": {"type": "timeseries", "title": title, "show_legend": True,
                           "requests": [{"q": q, "display_type": display} for q in queries]}}


def _value(title: str, query: str, precision: int = 2) -> dict:
    return {"definition": {"type": "query_value", "title": title, "precision": precision,
                           "requests": [{"q": query, "aggregator": "last"}]}}


def _group(title: str, widgets: list[dict]) -> dict:
    return {"definition": {"type": "group", "title": title, "layout_type": "ordered", "widgets": widgets}}


def dashboard(env: str, stack: str, app_host: str) -> dict:
    """The lab's dashboard (Datadog's dashboard JSON, for datadog.DashboardJson)."""
    s = scope(env, stack)
    apm = f"env:{env}"
    names = [workload_settings.service_name(k) for k in workload_settings.SERVICES]
    services = ", ".join(f"[{name}]({apm_url(app_host, env, name)})" for name in names)
    links = (f"**Credit Lab `{stack}`** (env `{env}`). Database Monitoring, filtered to this lab: "
             f"[databases]({agent_render.dbm_url(app_host, env)}), "
             f"[query metrics](https://{app_host}/databases/queries?query=env%3A{quote(env)}), "
             f"[query samples](https://{app_host}/databases/samples?query=env%3A{quote(env)}). "
             f"APM services: {services}.")
    return {
        "title": f"Credit Lab ({stack})",
        "description": "PostgreSQL health, top statements, waits and the credit services (the lab's Pulumi program).",
        "layout_type": "ordered",
        "tags": [],
        "template_variables": [],
        "widgets": [
            {"definition": {"type": "note", "content": links, "background_color": "white", "font_size": "14",
                            "show_tick": False}},
            _group("Database health", [
                _value("Connections used (of max_connections)", f"max:postgresql.percent_usage_connections{{{s}}}"),
                _timeseries("Commits and rollbacks /s", f"sum:postgresql.commits{{{s}}}",
                            f"sum:postgresql.rollbacks{{{s}}}"),
                _timeseries("Cache hit ratio", f"sum:postgresql.buffer_hit{{{s}}} / "
                            f"(sum:postgresql.buffer_hit{{{s}}} + sum:postgresql.disk_read{{{s}}})"),
                _timeseries("Deadlocks", f"sum:postgresql.deadlocks.count{{{s}}}.as_count()", display="bars"),
                _timeseries("Oldest transaction (s)", f"max:postgresql.activity.xact_start_age{{{s}}}"),
                _timeseries("Transactions left before wraparound", f"min:postgresql.before_xid_wraparound{{{s}}}"),
            ]),
            _group("Top statements (DBM)", [
                {"definition": {"type": "toplist", "title": "Statements by total time",
                                "requests": [{"q": f"top(sum:postgresql.queries.time{{{s}}} by {{query_signature}}"
                                                   ".as_count(), 10, 'sum', 'desc')"}]}},
                _timeseries("Rows per second by statement",
                            f"sum:postgresql.queries.rows{{{s}}} by {{query_signature}}.as_rate()"),
            ]),
            _group("Waits and sessions", [
                _timeseries("Active sessions waiting (lock, I/O, LWLock)",
                            f"sum:postgresql.active_waiting_queries{{{s}}}"),
                _timeseries("Sessions idle in transaction",
                            f"sum:postgresql.transactions.idle_in_transaction{{{s}}}"),
                _timeseries("Connections by application", f"sum:postgresql.connections{{{s}}} by {{app}}",
                            display="area"),
            ]),
            _group("Credit services (APM)", [
                _timeseries("p95 latency by service (s)", f"p95:{TRACE_METRIC}{{{apm}}} by {{service}}"),
                _timeseries("Operations per second by service",
                            f"sum:{TRACE_METRIC}.hits{{{apm}}} by {{service}}.as_rate()"),
                _timeseries("Errors per second by service",
                            f"sum:{TRACE_METRIC}.errors{{{apm}}} by {{service}}.as_rate()", display="bars"),
            ]),
        ],
    }
