"""The lab brought up by the real Pulumi CLI on the real Docker Engine (issue 17).

`pulumi up` of the default stack (no Datadog key) through the Automation API
(tests/integration/real_lab.py): the images are the local ones under the exact references
Pulumi.yaml pins (tests/images/), the workload's image is built from workload/Dockerfile during
the up. Then, from the host: Docker reports every container running and healthy, the published
URLs answer, the DSN output connects, no secret is in the state in clear; and `pulumi destroy`
leaves nothing of the stack but its images.
"""
from __future__ import annotations

import json
import secrets
import time
import urllib.request

import psycopg2
import pytest
from pulumi import automation as auto

from components import topology
from components.render import grafana as grafana_render
from tests.integration import real_lab

NS = 1e-9


@pytest.fixture(scope="module")
def client():
    return real_lab.engine()


@pytest.fixture(scope="module")
def lab(client):
    real_lab.remove_leftovers(client)
    lab = real_lab.up()
    yield lab
    if real_lab.leftovers(client) != real_lab.NOTHING:      # the destroy test did not run or failed
        real_lab.destroy(lab)


def _health_deadline_s(health: dict) -> float:
    """How long Docker may take to call a container healthy: its start period, then `retries`
    failing probes of `interval` + `timeout` each, plus the first successful one."""
    return (health.get("StartPeriod", 0) + (health.get("Retries", 3) + 1)
            * (health.get("Interval", 30e9) + health.get("Timeout", 30e9))) * NS


def _get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.read()


def _wait_for(what: str, check, deadline_s: float, poll_s: float = 0.5):
    """check() until it returns a true value (returned); its exceptions count as 'not yet'."""
    deadline, last = time.monotonic() + deadline_s, None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as error:   # noqa: BLE001 - not yet
            last = error
        time.sleep(poll_s)
    raise AssertionError(f"{what}: not within {deadline_s:.0f} s (last error: {last!r})")


def test_every_declared_container_runs_and_is_healthy(lab):
    declared = {r["inputs"]["name"] for r in lab.resources("docker:index/container:Container")}
    running = lab.containers()
    assert set(running) == declared, f"declared {sorted(declared)}, on the engine {sorted(running)}"
    for name, container in running.items():
        container.reload()
        health = container.attrs["Config"].get("Healthcheck")
        assert health and health.get("Test"), f"{name}: no healthcheck, from the program or its image"

        def healthy():
            container.reload()
            state = container.attrs["State"]
            assert state["Running"] and not state["Restarting"], f"{name} is not running: {state}"
            return state["Health"]["Status"] == "healthy"
        _wait_for(f"{name} healthy", healthy, _health_deadline_s(health))
        assert container.attrs["RestartCount"] == 0, f"{name} restarted {container.attrs['RestartCount']} times"


def test_the_published_urls_answer_from_the_host(lab):
    prometheus = lab.output("prometheusUrl")
    assert _get(f"{prometheus}/-/healthy")[0] == 200
    status, metrics = _get(lab.output("exporterUrl"))
    assert status == 200 and b"\npg_up 1\n" in metrics, "the exporter does not reach PostgreSQL"

    def exporter_target_up():
        targets = json.loads(_get(f"{prometheus}/api/v1/targets")[1])["data"]["activeTargets"]
        return [t for t in targets if t["labels"]["job"] != "prometheus" and t["health"] == "up"]
    _wait_for("Prometheus scrapes the exporter", exporter_target_up,
              deadline_s=3 * 10 + 10)   # three scrape intervals of the default 10s, and a margin

    grafana = lab.output("grafanaUrl")
    status, body = _get(f"{grafana}/api/health")
    assert status == 200 and json.loads(body)["database"] == "ok"
    # Grafana's datasource reaches Prometheus by its alias on the lab network, and the series are there.
    query = f"{grafana}/api/datasources/proxy/uid/{grafana_render.DATASOURCE_UID}/api/v1/query?query=pg_up"
    result = _wait_for("pg_up through Grafana's datasource",
                       lambda: json.loads(_get(query)[1])["data"]["result"], deadline_s=40)
    assert [sample["value"][1] for sample in result] == ["1"]


def test_the_dsn_output_connects_from_the_host(lab):
    dsn = lab.outputs["postgresDsn"]
    assert dsn.secret, "postgresDsn must stay a secret output"
    database_container = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    env = dict(entry.split("=", 1) for entry in database_container.attrs["Config"]["Env"])
    seed = int(env[topology.SEED_CUSTOMERS_ENV])
    with psycopg2.connect(dsn.value, connect_timeout=10) as connection, connection.cursor() as cursor:
        # The workload adds customers as it runs: count the seeded ones (ids 1..seed).
        cursor.execute("SELECT current_database(), count(*) FILTER (WHERE id <= %s) FROM customers", (seed,))
        database, seeded = cursor.fetchone()
    assert database == topology.DATABASE
    assert seeded == seed, f"{seeded} of the {seed} seeded customers are there: the seed did not run to the end"


def test_preview_right_after_up_and_a_second_up_change_nothing(lab):
    """No perpetual diff (issue 18, item 1): the program declares the same inputs every run, so
    the engine plans no change for any resource (uploads, envs, healthchecks, ports, labels)."""
    preview = lab.stack.preview(color="never")
    assert set(preview.change_summary) == {"same"}, preview.change_summary
    second = lab.stack.up(color="never")
    changes = {kind: count for kind, count in (second.summary.resource_changes or {}).items() if kind != "same"}
    assert changes == {}, changes


def test_no_secret_is_in_the_state_in_clear(lab):
    """The passwords (generated by the random provider) and the DSN are in the state only encrypted."""
    state = "\n".join(path.read_text() for path in (lab.home / "state").rglob("*.json"))
    assert '"ciphertext"' in state, "the state holds no encrypted value at all"
    password = lab.output("postgresDsn").split(":")[2].split("@")[0]
    for name, secret in {"postgres password": password, "Grafana admin password": lab.output("grafanaAdminPassword"),
                         "postgresDsn": lab.output("postgresDsn")}.items():
        assert len(secret) >= 16 and secret not in state, f"the {name} is in the state file in clear"


def _database_state(dsn: str, seed: int) -> tuple[int, int, set]:
    """(the cluster's system identifier, which initdb makes anew; seeded customers; the customers
    the workload added since, as (id, email) pairs)."""
    with psycopg2.connect(dsn, connect_timeout=10) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT system_identifier FROM pg_control_system()")
        (system_identifier,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM customers WHERE id <= %s", (seed,))
        (seeded,) = cursor.fetchone()
        cursor.execute("SELECT id, email FROM customers WHERE id > %s", (seed,))
        return system_identifier, seeded, set(cursor.fetchall())


def test_new_passwords_keep_every_row_and_work_everywhere(lab):
    """Issue 18, item 3: new passwords for the superuser, the workload's and the exporter's roles
    replace the containers, keep the data volume and every row, and reach every client, the roles
    re-applied by the database container's own start path."""
    database = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    seed = int(dict(e.split("=", 1) for e in database.attrs["Config"]["Env"])[topology.SEED_CUSTOMERS_ENV])
    old_dsn = lab.output("postgresDsn")
    cluster, _, added = _database_state(old_dsn, seed)
    assert added, "the workload added no customer before the change: nothing to prove kept"
    new = {key: secrets.token_hex(12) for key in ("postgresPassword", "workloadPassword", "exporterPassword")}
    lab.stack.set_all_config({key: auto.ConfigValue(value, secret=True) for key, value in new.items()})
    lab.outputs = lab.stack.up(color="never").outputs

    dsn = lab.output("postgresDsn")
    assert f":{new['postgresPassword']}@" in dsn
    cluster_after, seeded, added_after = _database_state(dsn, seed)
    assert cluster_after == cluster, "the database was initialized anew: the data volume was not kept"
    assert seeded == seed and added <= added_after, \
        f"rows lost: {seeded} of {seed} seeded, {len(added - added_after)} of the workload's {len(added)} gone"
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(old_dsn, connect_timeout=10).close()
    _wait_for("the exporter connects with its new password",
              lambda: b"\npg_up 1\n" in _get(lab.output("exporterUrl"))[1], deadline_s=30)
    workload = lab.containers()[f"{real_lab.PREFIX}-{topology.WORKLOAD_ALIAS}"]
    health = workload.attrs["Config"]["Healthcheck"]

    def workload_healthy():
        workload.reload()
        return workload.attrs["State"]["Health"]["Status"] == "healthy"
    _wait_for("the workload healthy with its new password", workload_healthy, _health_deadline_s(health))


def test_destroy_leaves_nothing_of_the_stack_but_its_images(lab, client):
    images = {r["inputs"]["name"] for r in lab.resources("docker:index/remoteImage:RemoteImage")}
    assert images, "the stack pinned no image"
    real_lab.destroy(lab)
    assert real_lab.leftovers(client) == real_lab.NOTHING
    for reference in images:   # keep_locally: the next `up` does not pull again
        client.images.get(reference)
