"""The server runs with exactly configs/postgres/server.conf, and the monitoring pieces work."""
import json
import re
import uuid

import psycopg2
import pytest

from components import topology
from components.render import postgres as render
from tests.integration.containers import wait_for

# The server writes a line as soon as the statement ends; the container log gets it at once.
LOG_WRITE_TIMEOUT_S = 10

# Units PostgreSQL accepts in settings, converted to the base units pg_settings reports.
_UNIT_FACTORS = {
    "ms": {"us": 1e-3, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000},
    "s": {"ms": 1e-3, "s": 1, "min": 60, "h": 3600, "d": 86400},
    "min": {"s": 1 / 60, "min": 1, "h": 60, "d": 1440},
    "B": {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3},
    "kB": {"B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024**2},
    "8kB": {"kB": 1 / 8, "MB": 128, "GB": 131072},
}


def _in_base_units(value: str, unit: str) -> float:
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)", value)
    assert match, f"not a number with an optional unit: {value!r}"
    number, given = float(match[1]), match[2] or unit
    return number * _UNIT_FACTORS[unit][given] if given != unit else number


def _wait_for_log(server, patterns: list[str], start: int = 0, timeout: float = LOG_WRITE_TIMEOUT_S) -> str:
    """The server log from offset `start` once every one of `patterns` matches a line of it (the log
    is written asynchronously). One linear search per pattern: a single pattern of lookaheads over
    the whole log is quadratic when it does not match yet (12 s for 100 KB; the session's log grows
    to megabytes), which once ran the deadline out before the first check returned."""
    def complete():
        text = server.log_text()[start:]
        return text if all(re.search(p, text, re.M) for p in patterns) else None
    return wait_for(complete, timeout, f"server log lines matching {patterns!r}")


def _ms(setting: str) -> float:
    return _in_base_units(render.server_settings()[setting], "ms")


def test_show_confirms_every_flag_from_server_conf(lab_postgres):
    settings = render.server_settings()
    assert len(settings) >= 10
    with lab_postgres.connect(topology.SUPERUSER, "postgres") as conn, conn.cursor() as cur:
        for name, wanted in settings.items():
            cur.execute("SELECT current_setting(%s), setting, unit, source FROM pg_settings WHERE name = %s",
                        (name, name))
            row = cur.fetchone()
            assert row is not None, f"{name}: unknown to the server (library not preloaded?)"
            shown, setting, unit, source = row
            assert source == "command line", (name, source)
            if unit:
                assert float(setting) == _in_base_units(wanted, unit), (name, wanted, shown)
            else:
                assert shown.lower() == wanted.lower(), (name, wanted, shown)
    # The ones DBM and this lab depend on, spelled out so a deleted line fails here too.
    for required in ("shared_preload_libraries", "pg_stat_statements.track", "pg_stat_statements.max",
                     "pg_stat_statements.track_utility", "track_activity_query_size", "track_io_timing",
                     "auto_explain.log_min_duration", "log_min_duration_statement", "log_line_prefix",
                     "auto_explain.log_format"):
        assert required in settings


@pytest.mark.parametrize("role,dbname", [
    (topology.DATADOG_ROLE, "postgres"), (topology.DATADOG_ROLE, topology.DATABASE),
    (topology.EXPORTER_ROLE, topology.DATABASE),
])
def test_pg_stat_statements_returns_rows_where_monitors_connect(lab_postgres, role, dbname):
    with lab_postgres.connect(topology.WORKLOAD_ROLE) as app, app.cursor() as app_cur:
        app.autocommit = True   # the count below stays the session's last statement
        app_cur.execute("SELECT pg_backend_pid()")
        app_pid = app_cur.fetchone()[0]
        app_cur.execute("SELECT count(*) FROM customers WHERE id < 10")
        with lab_postgres.connect(role, dbname) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_statements")
            assert cur.fetchone()[0] > 0
            # The workload's statement, found by the query id of its session's last statement:
            # pg_monitor shows it with its text, not '<insufficient privilege>'.
            cur.execute("SELECT s.query FROM pg_stat_activity a JOIN pg_stat_statements s"
                        " ON s.queryid = a.query_id AND s.userid = a.usesysid AND s.dbid = a.datid"
                        " WHERE a.pid = %s", (app_pid,))
            texts = [r[0] for r in cur.fetchall()]
    assert texts and all("FROM customers" in t for t in texts), texts


def test_slow_statement_is_logged_and_auto_explain_logs_a_json_plan(lab_postgres):
    """The oracle is each threshold of server.conf against the duration the server itself logs:
    a statement over log_min_duration_statement is logged with its text, and auto_explain logs a
    JSON plan exactly for those over auto_explain.log_min_duration, whatever the machine's speed."""
    logged_ms, explain_ms = _ms("log_min_duration_statement"), _ms("auto_explain.log_min_duration")
    marker = f"m_{uuid.uuid4().hex[:8]}"
    sleeps = {f"{marker}_a": logged_ms / 1000 * 1.5, f"{marker}_b": explain_ms / 1000 * 1.5}
    log_start = len(lab_postgres.log_text())
    with lab_postgres.connect() as conn, conn.cursor() as cur:
        for name, seconds in sleeps.items():
            cur.execute(f"SELECT pg_sleep({seconds}) AS {name}")
    # The container log arrives line by line; each statement line comes after its plan.
    text = _wait_for_log(lab_postgres, [rf"statement: SELECT pg_sleep\([\d.]+\) AS {n}$" for n in sleeps], log_start)
    for name in sleeps:
        statement = re.search(rf"^.*duration: ([\d.]+) ms  statement: SELECT pg_sleep\([\d.]+\) AS {name}$", text, re.M)
        assert statement, f"{name}: slower than log_min_duration_statement, yet not logged"
        assert float(statement.group(1)) >= logged_ms
        # The prefix names database, application and user.
        assert f" {topology.DATABASE} " in statement[0] and f" {topology.WORKLOAD_ROLE} " in statement[0]
        plan = re.search(rf"duration: ([\d.]+) ms  plan:\n(\s*\{{\s*\n\s*\"Query Text\": \"SELECT pg_sleep\([\d.]+\) AS {name}\".*?\n\s*\}})\n",
                         text, re.S)
        if plan is None:
            assert float(statement.group(1)) < explain_ms * 1.05, f"{name} took {statement.group(1)} ms, no plan"
            continue
        assert float(plan.group(1)) >= explain_ms, f"{name}: a plan under auto_explain's threshold"
        document = json.loads(plan.group(2))
        assert document["Plan"]["Node Type"] == "Result" and document["Plan"]["Actual Rows"] == 1   # log_analyze
    # The one well over auto_explain's threshold has its plan, whatever the machine.
    assert re.search(rf'"Query Text": "SELECT pg_sleep\([\d.]+\) AS {marker}_b"', text)
    # No statement faster than the threshold is ever logged, no plan under its own.
    assert all(float(ms) >= logged_ms for ms in re.findall(r"duration: ([\d.]+) ms  statement:", text))
    assert all(float(ms) >= explain_ms for ms in re.findall(r"duration: ([\d.]+) ms  plan:", text))


def test_datadog_explain_statement_returns_a_json_plan_in_both_databases(lab_postgres):
    for dbname, query in (("postgres", "SELECT * FROM pg_class WHERE relname = 'x'"),
                          (topology.DATABASE, "SELECT * FROM customers WHERE email = 'a@b.c'")):
        with lab_postgres.connect(topology.DATADOG_ROLE, dbname) as conn, conn.cursor() as cur:
            cur.execute("SELECT datadog.explain_statement(%s)", (query,))
            plan = cur.fetchone()[0]   # psycopg2 decodes json
            assert isinstance(plan, list) and "Plan" in plan[0], plan
            if dbname == topology.DATABASE:
                assert plan[0]["Plan"]["Index Name"] == "customers_email_key"


def test_datadog_explain_statement_cannot_write(lab_postgres):
    """EXPLAIN never runs the statement; READ ONLY stops writes the planner would trigger."""
    with lab_postgres.connect(topology.SUPERUSER) as su:
        su.autocommit = True
        with su.cursor() as cur:
            cur.execute("""
                DROP SCHEMA IF EXISTS explain_probe CASCADE;
                CREATE SCHEMA explain_probe;
                CREATE TABLE explain_probe.written (x int);
                CREATE FUNCTION explain_probe.write(i int) RETURNS int LANGUAGE plpgsql VOLATILE
                    AS $$ BEGIN INSERT INTO explain_probe.written VALUES (i); RETURN i; END $$;
                -- IMMUTABLE, so the planner folds it (runs it) while planning a constant call.
                CREATE FUNCTION explain_probe.folded(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE
                    AS $$ BEGIN RETURN explain_probe.write(i); END $$;
                GRANT USAGE ON SCHEMA explain_probe TO datadog;
                GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA explain_probe TO datadog;""")
    try:
        with lab_postgres.connect(topology.DATADOG_ROLE) as conn, conn.cursor() as cur:
            # A data-changing statement only gets planned: a plan comes back, nothing is written.
            cur.execute("SELECT datadog.explain_statement('INSERT INTO explain_probe.written VALUES (1)')")
            assert cur.fetchone()[0][0]["Plan"]["Operation"] == "Insert"
            conn.rollback()
            with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
                cur.execute("SELECT datadog.explain_statement('SELECT explain_probe.folded(2)')")
            conn.rollback()
            with pytest.raises(psycopg2.Error, match="cannot open multi-query plan"):
                cur.execute("SELECT datadog.explain_statement('SELECT 1; DELETE FROM explain_probe.written')")
        with lab_postgres.connect(topology.SUPERUSER) as su, su.cursor() as cur:
            cur.execute("SELECT count(*) FROM explain_probe.written")
            assert cur.fetchone()[0] == 0
    finally:
        with lab_postgres.connect(topology.SUPERUSER) as su:
            su.autocommit = True
            su.cursor().execute("DROP SCHEMA explain_probe CASCADE")
