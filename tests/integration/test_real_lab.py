"""The lab brought up by the real Pulumi CLI on the real Docker Engine (issue 17).

`pulumi up` of the default stack (no Datadog key) through the Automation API
(tests/integration/real_lab.py): the images are the local ones under the exact references
Pulumi.yaml pins (tests/images/), the workload's image is built from workload/Dockerfile during
the up. Then, from the host: Docker reports every container running and healthy, the published
URLs answer, the DSN output connects, no secret is in the state in clear; and `pulumi destroy`
leaves nothing of the stack but its images.
"""
from __future__ import annotations

import secrets
import socket

import psycopg2
import pytest
from pulumi import automation as auto

from components import topology
from tests.integration import real_lab

@pytest.fixture(scope="module")
def client():
    return real_lab.engine()


@pytest.fixture(scope="module")
def lab():
    with real_lab.running() as lab:
        yield lab


def test_every_declared_container_runs_and_is_healthy(lab):
    declared = {r["inputs"]["name"] for r in lab.resources("docker:index/container:Container")}
    running = lab.containers()
    assert declared, "the state declares no container"
    assert set(running) == declared, f"declared {sorted(declared)}, on the engine {sorted(running)}"
    for name, container in running.items():
        real_lab.wait_healthy(name, container)


def test_the_published_urls_answer_from_the_host(lab):
    real_lab.check_the_urls_answer(lab.outputs)


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


def test_preview_right_after_up_and_after_refresh_change_nothing(lab):
    """No perpetual diff (issue 25): the provider reads each resource back from Docker after create
    and on refresh, and plans the program's inputs against that; `preview --expect-no-changes` fails
    on any planned change, right after `up` and again after `refresh`. A second `up` changes nothing."""
    lab.stack.preview(color="never", expect_no_changes=True)
    refreshed = lab.stack.refresh(color="never")
    assert set(refreshed.summary.resource_changes or {}) <= {"same", "update"}, refreshed.summary.resource_changes
    lab.stack.preview(color="never", expect_no_changes=True)
    second = lab.stack.up(color="never")
    changes = {kind: count for kind, count in (second.summary.resource_changes or {}).items() if kind != "same"}
    assert changes == {}, changes


def test_a_code_change_under_workload_rebuilds_its_image_and_replaces_only_its_container(lab):
    """The provider's Check hashes the build context (contextDigest): one new line under workload/
    plans the image's rebuild and the workload container's replacement, and nothing else; `up`
    then runs the workload on the new image."""
    before = lab.containers()[f"{real_lab.PREFIX}-{topology.WORKLOAD_ALIAS}"].image.id
    with real_lab.workload_code_changed():
        planned = real_lab.planned_steps(lab.stack)
        changed = {urn.rsplit("::", 1)[1]: op for urn, op in planned.items() if op != "same"}
        assert changed == {"workload-image": "update", "workload-container": "replace"}, changed
        lab.outputs = lab.stack.up(color="never").outputs
        workload = lab.containers()[f"{real_lab.PREFIX}-{topology.WORKLOAD_ALIAS}"]
        assert workload.image.id != before, "the workload still runs the image built before the change"
        real_lab.wait_healthy(workload.name, workload)
    lab.outputs = lab.stack.up(color="never").outputs     # back to the repository's code
    lab.stack.preview(color="never", expect_no_changes=True)


def test_a_container_removed_by_hand_is_dropped_by_refresh_and_made_again_by_up(lab, client):
    """The provider's Read clears a container Docker no longer has (funcs.go 769-773): `refresh`
    drops it from the state, and the next `up` creates it again, healthy, and nothing else."""
    name = f"{real_lab.PREFIX}-{topology.GRAFANA_ALIAS}"
    client.containers.get(name).remove(force=True, v=True)
    lab.stack.refresh(color="never")
    assert name not in {r["inputs"]["name"] for r in lab.resources("docker:index/container:Container")}, \
        "refresh kept a container that no longer exists"
    planned = {urn.rsplit("::", 1)[1]: op for urn, op in real_lab.planned_steps(lab.stack).items() if op != "same"}
    assert planned == {"grafana-container": "create"}, planned
    lab.outputs = lab.stack.up(color="never").outputs
    real_lab.wait_healthy(name, lab.containers()[name])


def test_no_secret_is_in_the_state_in_clear(lab):
    """The passwords (generated by the random provider) and the DSN are in the state only encrypted."""
    state = "\n".join(path.read_text() for path in (lab.home / "state").rglob("*.json"))
    assert '"ciphertext"' in state, "the state holds no encrypted value at all"
    password = lab.output("postgresDsn").split(":")[2].split("@")[0]
    for name, secret in {"postgres password": password, "Grafana admin password": lab.output("grafanaAdminPassword"),
                         "postgresDsn": lab.output("postgresDsn")}.items():
        assert len(secret) >= 16 and secret not in state, f"the {name} is in the state file in clear"


def test_new_passwords_keep_every_row_and_work_everywhere(lab):
    """Issue 18, item 3: new passwords for the superuser, the workload's and the exporter's roles
    replace the containers, keep the data volume and every row, and reach every client, the roles
    re-applied by the database container's own start path."""
    database = lab.containers()[f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"]
    seed = int(dict(e.split("=", 1) for e in database.attrs["Config"]["Env"])[topology.SEED_CUSTOMERS_ENV])
    old_dsn = lab.output("postgresDsn")
    cluster, _, added = real_lab.database_state(old_dsn, seed)
    assert added, "the workload added no customer before the change: nothing to prove kept"
    new = {key: secrets.token_hex(12) for key in ("postgresPassword", "workloadPassword", "exporterPassword")}
    lab.stack.set_all_config({key: auto.ConfigValue(value, secret=True) for key, value in new.items()})
    lab.outputs = lab.stack.up(color="never").outputs

    dsn = lab.output("postgresDsn")
    assert f":{new['postgresPassword']}@" in dsn
    cluster_after, seeded, added_after = real_lab.database_state(dsn, seed)
    assert cluster_after == cluster, "the database was initialized anew: the data volume was not kept"
    assert seeded == seed and added <= added_after, \
        f"rows lost: {seeded} of {seed} seeded, {len(added - added_after)} of the workload's {len(added)} gone"
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(old_dsn, connect_timeout=10).close()
    real_lab.wait_for("the exporter connects with its new password",
              lambda: b"\npg_up 1\n" in real_lab.http_get(lab.output("exporterUrl"))[1], deadline_s=30)
    name = f"{real_lab.PREFIX}-{topology.WORKLOAD_ALIAS}"
    real_lab.wait_healthy(name, lab.containers()[name])


def test_destroy_leaves_nothing_of_the_stack_but_its_images(lab, client):
    images = {r["inputs"]["name"] for r in lab.resources("docker:index/remoteImage:RemoteImage")}
    assert images, "the stack pinned no image"
    real_lab.destroy(lab)
    assert real_lab.leftovers(client) == real_lab.NOTHING
    for reference in images:   # keep_locally: the next `up` does not pull again
        client.images.get(reference)


def test_up_after_destroy_with_a_port_held_fails_then_recovers(client):
    """After `destroy`, a new `up` of the same stack (issue 18, item 8) while another process holds
    PostgreSQL's host port (a laptop's own PostgreSQL on 5432): `up` fails naming that port, and the
    container it could not start stays in the state with its error (the provider created it first).
    Once the port is free, the next `up` replaces it and brings the whole lab back, no container left
    over, every one running, and plans nothing after (issue 25)."""
    real_lab.remove_leftovers(client)   # nothing after the destroy test; run alone, the module's lab
    port = real_lab.PORTS["postgresPort"]
    held = f"{real_lab.PREFIX}-{topology.POSTGRES_ALIAS}"
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    lab = real_lab.prepare(allow_busy=(port,))
    try:
        try:
            with pytest.raises(auto.CommandError) as failed:
                lab.up()
            assert str(port) in str(failed.value), f"the error does not name port {port}:\n{failed.value}"
            assert "Traceback" not in str(failed.value)
            kept = [r for r in lab.resources("docker:index/container:Container") if r["inputs"]["name"] == held]
            assert kept and kept[0].get("initErrors"), "the container that could not start is not in the state"
            assert not lab.containers()[held].attrs["State"]["Running"]
        finally:
            holder.close()
        lab.up()
        declared = [r["inputs"]["name"] for r in lab.resources("docker:index/container:Container")]
        assert not any(r.get("initErrors") for r in lab.resources("docker:index/container:Container"))
        containers = lab.containers()
        assert sorted(containers) == sorted(declared) and len(set(declared)) == len(declared), \
            f"declared {sorted(declared)}, on the engine {sorted(containers)}"
        for name, container in containers.items():
            real_lab.wait_healthy(name, container)
        lab.stack.preview(color="never", expect_no_changes=True)
    finally:
        real_lab.destroy(lab)
    assert real_lab.leftovers(client) == real_lab.NOTHING
