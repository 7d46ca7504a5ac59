"""postgres_exporter 0.17 as the lab's container on the real engine (tests/integration/containers.py): as `nobody`, with the flags and
environment the program declares, on the PostgreSQL container's network."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from components import topology
from components.render import exporter
from tests.integration.containers import Network
from tests.integration.obs_servers import Exporter, http_get


def _samples(text: str, name: str) -> dict[frozenset, float]:
    """{label set: value} of the samples named `name`, parsed by prometheus_client."""
    return {frozenset(sample.labels.items()): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples
            if sample.name == name}


def test_flags_enable_the_lab_collectors_and_listen_on_the_lab_port():
    flags = exporter.flags()
    for name in ("stat_statements", "long_running_transactions", "postmaster",
                 "stat_activity_autovacuum", "database_wraparound", "process_idle"):
        assert f"--collector.{name}" in flags
    assert f"--web.listen-address=:{topology.EXPORTER_PORT}" in flags
    # Deprecated since 0.13 and not wanted: no custom queries file.
    assert not any(f.startswith("--extend.query-path") for f in flags)


def test_env_points_at_the_credit_database_without_the_password():
    env = exporter.env(topology.POSTGRES_ALIAS, topology.POSTGRES_PORT)
    assert env == {"DATA_SOURCE_URI": f"postgres:5432/{topology.DATABASE}?sslmode=disable",
                   "DATA_SOURCE_USER": topology.EXPORTER_ROLE}
    assert exporter.PASSWORD_ENV == "DATA_SOURCE_PASS" and exporter.PASSWORD_ENV not in env


@pytest.mark.parametrize("host,port", [("", 5432), ("pg/x", 5432), ("postgres", 0), ("postgres", "5432")])
def test_bad_connection_settings_are_refused(host, port):
    with pytest.raises(ValueError, match="exporter database (host|port)"):
        exporter.env(host, port)


def test_unreachable_database_reads_as_pg_up_zero():
    # No `postgres` on its network: the exporter must still serve, with pg_up 0 (PostgresDown's input),
    # and its healthcheck stays green (it does not depend on the database).
    network = Network()
    server = Exporter(network=network)
    password = server.container.config.env[exporter.PASSWORD_ENV]
    try:
        server.start()
        assert _samples(server.metrics_text(), "pg_up") == {frozenset(): 0.0}
        assert server.healthcheck()
        assert password not in server.log_text()
    finally:
        server.stop()
        network.remove()


def test_every_collector_succeeds_against_the_lab_database(lab_postgres):
    password = lab_postgres.passwords[topology.EXPORTER_ROLE]
    server = Exporter(lab_postgres).start()
    try:
        server.metrics_text()  # the first scrape learns the server version
        text = server.metrics_text()
    finally:
        server.stop()
    assert _samples(text, "pg_up") == {frozenset(): 1.0}
    success = {dict(labels)["collector"]: v for labels, v in _samples(text, "pg_scrape_collector_success").items()}
    for name in exporter.EXTRA_COLLECTORS:
        assert success.get(name) == 1.0, (name, success)
    assert [name for name, ok in success.items() if ok != 1.0] == []
    # The collector reads the credit database's pg_stat_statements and keeps at most 100 entries.
    queryids = {k for k in _samples(text, "pg_stat_statements_calls_total")}
    assert 0 < len(queryids) <= 100
    assert _samples(text, "pg_postmaster_start_time_seconds")[frozenset()] > 1.6e9
    assert f'datname="{topology.DATABASE}"' in text
    # The password never shows up in what the exporter logs or serves.
    assert password not in server.log_text() and password not in text


def test_healthcheck_passes_on_a_serving_exporter_and_fails_without_one(lab_postgres):
    server = Exporter(lab_postgres).start()
    try:
        assert server.healthcheck()
        assert http_get(f"http://{server.address}{exporter.HEALTH_PATH}")
        # The same image with nothing listening: the check must fail there.
        idle = server.container.idle_twin()
        try:
            assert not idle.healthcheck(server.inputs["healthcheck"]["tests"])
        finally:
            idle.remove()
    finally:
        server.stop()
