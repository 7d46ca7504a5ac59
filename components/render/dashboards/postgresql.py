"""The "Credit Lab — PostgreSQL" dashboard: what a DBA looks at first.

Every query reads postgres_exporter 0.17 metrics (the line components/versions.py accepts), or
recording rules from configs/prometheus/rules, through the `$datasource` variable, whose only choice is the
provisioned datasource; `$database` picks the database (default: the credit database).
"""
import json
import warnings

# The SDK nudges towards the v2 schema; Grafana 12's file provider loads the v1 JSON model.
warnings.filterwarnings("ignore", message="Prefer using dashboardv2", category=DeprecationWarning)
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from components import topology
from components.render import prometheus

UID = "credit-lab-postgresql"
TITLE = "Credit Lab — PostgreSQL"
DS = common.DataSourceRef(type_val="prometheus", uid="${datasource}")
DB = 'datname="$database"'
JOB = f'job="{prometheus.EXPORTER_JOB}"'


def _query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prom.Dataquery:
    query = prom.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    query = query.legend_format(legend or "__auto")
    if instant:
        query = query.instant().format(PromQueryFormat.TABLE)
    else:
        query = query.range()
    return query


def _legend():
    return common_b.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST).placement(
        common.LegendPlacement.BOTTOM).show_legend(True)


def _series(title: str, unit: str, targets: list[tuple[str, str]], w: int = 12,
            description: str = "", stack: bool = False) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(description).datasource(DS).unit(unit)
             .height(8).span(w).legend(_legend()).fill_opacity(10).line_width(1))
    if stack:
        panel = panel.stacking(common_b.StackingConfig().mode(common.StackingMode.NORMAL))
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + i)))
    return panel


def _stat(title: str, unit: str, expr: str, legend: str = "", w: int = 4,
          text_mode: common.BigValueTextMode = common.BigValueTextMode.VALUE,
          mappings: list | None = None, thresholds: list | None = None,
          description: str = "") -> stat.Panel:
    # Explicit reduction: the last value, not Grafana's default "mean" of the range.
    reduce = common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    panel = (stat.Panel().title(title).description(description).datasource(DS).unit(unit)
             .height(4).span(w).reduce_options(reduce).text_mode(text_mode)
             .graph_mode(common.BigValueGraphMode.NONE)
             .with_target(_query(expr, legend)))
    if mappings:
        panel = panel.mappings(mappings)
    if thresholds:
        panel = panel.thresholds(dash.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(thresholds))
        panel = panel.color_mode(common.BigValueColorMode.BACKGROUND)
    return panel


def _top_table(title: str, unit: str, metric: str, description: str, unit_label: str) -> table.Panel:
    # Instant query over the dashboard range: what the statement cost in the window shown.
    expr = f'topk(10, sum by (queryid, user) (increase({metric}{{{JOB},{DB}}}[$__range])))'
    return (table.Panel().title(title).description(description).datasource(DS).unit(unit)
            .height(9).span(12).with_target(_query(expr, "", instant=True))
            # The instant query's Time column says nothing here; name the value column.
            .with_transformation(dm.DataTransformerConfig(id_val="organize", options={
                "excludeByName": {"Time": True}, "renameByName": {"Value": unit_label}}))
            .sort_by([common_b.TableSortByFieldState().display_name(unit_label).desc(True)]))


def _up_mapping():
    return [dm.ValueMap(options={
        "0": dm.ValueMappingResult(text="DOWN", color="red"),
        "1": dm.ValueMappingResult(text="UP", color="green")})]


def _red_green():
    return [dm.Threshold(value=None, color="red"), dm.Threshold(value=1, color="green")]


def _variables(datasource_uid: str, datasource_name: str):
    datasource = (dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
                  # Only the provisioned datasource: dashboards never depend on another one.
                  .regex(f"/^{datasource_name}$/")
                  .current(dm.VariableOption(selected=True, text=datasource_name, value=datasource_uid)))
    database = (dash.QueryVariable("database").label("Database").datasource(DS)
                .query("label_values(pg_database_size_bytes, datname)")
                .definition("label_values(pg_database_size_bytes, datname)")
                .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dm.VariableSort.ALPHABETICAL_ASC)
                .current(dm.VariableOption(selected=True, text=topology.DATABASE, value=topology.DATABASE)))
    return [datasource, database]


def build(datasource_uid: str, datasource_name: str = "Prometheus") -> dm.Dashboard:
    """The dashboard model; `datasource_uid` is the provisioned datasource's fixed uid."""
    board = (dash.Dashboard(TITLE).uid(UID).tags(["credit-lab", "postgresql"]).refresh("30s")
             .time("now-30m", "now").timezone("browser").tooltip(dm.DashboardCursorSync.CROSSHAIR)
             .description("PostgreSQL health and load of the Credit Lab, from postgres_exporter 0.17"))
    for variable in _variables(datasource_uid, datasource_name):
        board = board.with_variable(variable)

    board = (board.with_row(dash.Row("Overview"))
             .with_panel(_stat("PostgreSQL", "none", f"pg_up{{{JOB}}}", mappings=_up_mapping(),
                               thresholds=_red_green(), w=3,
                               description="pg_up: the exporter's last connection to the database"))
             .with_panel(_stat("Exporter", "none", f"up{{{JOB}}}", mappings=_up_mapping(),
                               thresholds=_red_green(), w=3,
                               description="up: Prometheus's last scrape of postgres_exporter"))
             .with_panel(_stat("Version", "none", f"pg_static{{{JOB}}}", legend="{{short_version}}",
                               text_mode=common.BigValueTextMode.NAME, w=4))
             .with_panel(_stat("Uptime", "s", f"time() - pg_postmaster_start_time_seconds{{{JOB}}}", w=4))
             .with_panel(_stat("Connections used", "percentunit",
                               f"instance:pg_connections_used:ratio{{{JOB}}}", w=3,
                               description="Backends of all databases / max_connections"))
             .with_panel(_stat("Database size", "bytes", f"pg_database_size_bytes{{{JOB},{DB}}}", w=4))
             .with_panel(_stat("Cache hit ratio (5m)", "percentunit",
                               f"datname:pg_cache_hit:ratio_rate5m{{{JOB},{DB}}}", w=3)))

    board = (board.with_row(dash.Row("Throughput"))
             .with_panel(_series("Commits and rollbacks per second", "ops", [
                 (f"rate(pg_stat_database_xact_commit{{{JOB},{DB}}}[$__rate_interval])", "commits"),
                 (f"rate(pg_stat_database_xact_rollback{{{JOB},{DB}}}[$__rate_interval])", "rollbacks")]))
             .with_panel(_series("Tuples written per second", "rowsps", [
                 (f"rate(pg_stat_database_tup_inserted{{{JOB},{DB}}}[$__rate_interval])", "inserted"),
                 (f"rate(pg_stat_database_tup_updated{{{JOB},{DB}}}[$__rate_interval])", "updated"),
                 (f"rate(pg_stat_database_tup_deleted{{{JOB},{DB}}}[$__rate_interval])", "deleted")]))
             .with_panel(_series("Cache hit ratio", "percentunit", [
                 (f"datname:pg_cache_hit:ratio_rate5m{{{JOB},{DB}}}", "hit ratio (5m)")],
                 description="blks_hit / (blks_hit + blks_read); reads may still hit the OS cache"))
             .with_panel(_series("Temporary files written per second", "Bps", [
                 (f"rate(pg_stat_database_temp_bytes{{{JOB},{DB}}}[$__rate_interval])", "temp bytes")],
                 description="Sorts and hashes spilling past work_mem"))
             .with_panel(_series("Deadlocks", "short", [
                 (f"increase(pg_stat_database_deadlocks{{{JOB},{DB}}}[$__rate_interval])", "deadlocks")]))
             .with_panel(_series("Database size", "bytes", [
                 (f"pg_database_size_bytes{{{JOB},{DB}}}", "{{datname}}")])))

    board = (board.with_row(dash.Row("Sessions and locks"))
             .with_panel(_series("Sessions by state", "short", [
                 (f"sum by (state) (pg_stat_activity_count{{{JOB},{DB}}})", "{{state}}")], stack=True))
             .with_panel(_series("Sessions by application", "short", [
                 (f'sum by (application_name) (pg_stat_activity_count{{{JOB},{DB},application_name!=""}})',
                  "{{application_name}}")], stack=True,
                 description="application_name as each workload service sets it"))
             .with_panel(_series("Sessions by wait event type", "short", [
                 (f'sum by (wait_event_type) (pg_stat_activity_count{{{JOB},{DB},wait_event_type!=""}})',
                  "{{wait_event_type}}")], stack=True,
                 description="What sessions wait on: Lock (contention), IO, Client (idle), LWLock…"))
             .with_panel(_series("Locks by mode", "short", [
                 (f"sum by (mode) (pg_locks_count{{{JOB},{DB}}})", "{{mode}}")], stack=True))
             .with_panel(_series("Long-running transactions", "s", [
                 (f"pg_long_running_transactions_oldest_timestamp_seconds{{{JOB}}}", "oldest transaction age"),
                 (f'max by (state) (pg_stat_activity_max_tx_duration{{{JOB},{DB},state=~"active|idle in transaction.*"}})',
                  "longest {{state}}")],
                 description="Age of the oldest open transaction (all databases) and per session state")))

    board = (board.with_row(dash.Row("Statements (pg_stat_statements, top 100 kept by the exporter)"))
             .with_panel(_top_table("Top statements by total time", "s", "pg_stat_statements_seconds_total",
                                    "Execution time spent in the range; text: SELECT query FROM "
                                    "pg_stat_statements WHERE queryid = …", "time in range"))
             .with_panel(_top_table("Top statements by calls", "short", "pg_stat_statements_calls_total",
                                    "Calls in the range", "calls in range")))

    board = (board.with_row(dash.Row("WAL, checkpoints and maintenance"))
             .with_panel(_series("WAL on disk", "bytes", [
                 (f"pg_wal_size_bytes{{{JOB}}}", "pg_wal size")],
                 description="0.17 has no WAL-bytes-written counter on PostgreSQL ≥ 10; size of pg_wal", w=8))
             .with_panel(_series("Checkpoints per second", "ops", [
                 (f"rate(pg_stat_bgwriter_checkpoints_timed_total{{{JOB}}}[$__rate_interval])", "timed"),
                 (f"rate(pg_stat_bgwriter_checkpoints_req_total{{{JOB}}}[$__rate_interval])", "requested")], w=8))
             .with_panel(_series("Transaction ID age (wraparound)", "short", [
                 (f"pg_database_wraparound_age_datfrozenxid_seconds{{{JOB},{DB}}}", "age(datfrozenxid)")],
                 description="Autovacuum freezes before autovacuum_freeze_max_age (200M by default)", w=8))
             .with_panel(_series("Dead tuples, top 10 tables", "short", [
                 (f"topk(10, pg_stat_user_tables_n_dead_tup{{{JOB},{DB}}})", "{{schemaname}}.{{relname}}")],
                 description="Rows VACUUM has yet to reclaim", w=12))
             .with_panel(_series("Sequential and index scans per second", "ops", [
                 (f"sum(rate(pg_stat_user_tables_seq_scan{{{JOB},{DB}}}[$__rate_interval]))", "sequential scans"),
                 (f"sum(rate(pg_stat_user_tables_idx_scan{{{JOB},{DB}}}[$__rate_interval]))", "index scans")],
                 description="A rise in sequential scans often means a missing index (see slow-query)", w=12)))
    model = board.build()
    # Unique ids let Grafana link to and edit one panel (the SDK leaves them unset).
    for number, panel in enumerate(model.panels, start=1):
        panel.id_val = number
    return model


def render(datasource_uid: str, datasource_name: str = "Prometheus") -> str:
    """The dashboard JSON Grafana's file provider loads."""
    return json.dumps(build(datasource_uid, datasource_name), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
