"""The containers on the Docker Engine, on the images the stack pins (tests/CONTRACTS.md): each process
runs as its image's user, every uploaded file can be read (or run) by that user, and the Datadog
check's connections fit the `datadog` role's limit on the real server."""
import dataclasses

import psycopg2
import pytest

from components import topology
from components.render import datadog as datadog_render
from tests.engine import datadog_check
from tests.integration import images, program
from tests.integration.containers import Container, Network, Volume


def _uid_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("Uid:")).split()[1])


def test_postgres_runs_as_uid_70_after_its_entrypoint_steps_down(lab_postgres):
    assert _uid_of(lab_postgres.container.pid) == 70    # PID 1 is `postgres`, exec'd as uid 70


def test_the_entrypoints_scripts_can_be_run_by_the_postgres_user(lab_postgres):
    config = lab_postgres.container_config()
    scripts = [u["file"] for u in config.uploads if u["file"].startswith("/usr/local/bin/")]
    assert scripts
    for script in scripts:
        result = lab_postgres.container.exec(["gosu", "postgres", "test", "-x", script])
        assert result.returncode == 0, f"{script} is not executable by uid 70"


@pytest.mark.parametrize("alias,image", [(topology.PROMETHEUS_ALIAS, images.prometheus),
                                         ("grafana", images.grafana)])
def test_every_upload_is_readable_by_the_images_user(alias, image):
    """The image's user reads each uploaded file at its container path, in a container of the
    program's config whose PID 1 only sleeps (Grafana's image here is a stand-in)."""
    network = Network()
    run = program.stack()
    declared = [v["containerPath"] for v in program.container_inputs(run, alias).get("volumes", [])
                if v.get("volumeName")]
    volumes = {path: Volume(f"{alias}{path.replace('/', '-')}") for path in declared}
    config = program.container_config(run, alias, image(), volumes=volumes)
    container = Container(network, dataclasses.replace(config, entrypoint=["sleep", "infinity"], command=[])).start()
    try:
        user = container.exec(["id", "-u"]).stdout.strip()
        assert user != "0", f"{alias}: its image runs as root"
        for upload in config.uploads:
            result = container.exec(["cat", upload["file"]])
            assert result.returncode == 0 and result.stdout == upload["content"], \
                f"{alias}: {upload['file']} unreadable as uid {user}: {result.stderr}"
    finally:
        container.remove()
        network.remove()
        for volume in volumes.values():
            volume.remove()


def test_the_datadog_check_fits_the_roles_connection_limit(lab_postgres):
    """The check as the program configures it, against the role as the init scripts create it."""
    agent = program.container_inputs(lab_postgres.stack(secret={"ddApiKey": "test-api-key"}), topology.AGENT_ALIAS)
    (instance,) = program.labels_of(agent)[datadog_render.CHECKS_LABEL]["postgres"]["instances"]
    with lab_postgres.connect(topology.SUPERUSER, "postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (topology.DATADOG_ROLE,))
        limit = cur.fetchone()[0]
        cur.execute("SELECT datname FROM pg_database WHERE NOT datistemplate"
                    " AND has_database_privilege(%s, datname, 'CONNECT')", (topology.DATADOG_ROLE,))
        databases = [row[0] for row in cur.fetchall()]
    assert 0 < limit, "the datadog role has no connection limit"
    assert datadog_check.bound(instance) <= limit, (instance.get("max_connections"), limit)
    # What the check holds here at most: its main connection to dbname and a full pool per
    # database. All of them get in; one more than the role's limit does not (the limit is real).
    wanted = [instance["dbname"]] + [db for db in databases for _ in range(datadog_check.POOL_MAX_SIZE)]
    assert len(wanted) == datadog_check.most_connections(instance, len(databases))
    held = []
    try:
        for dbname in wanted:
            held.append(lab_postgres.connect(topology.DATADOG_ROLE, dbname))
        while len(held) < limit:
            held.append(lab_postgres.connect(topology.DATADOG_ROLE, instance["dbname"]))
        with pytest.raises(psycopg2.OperationalError, match="too many connections for role"):
            held.append(lab_postgres.connect(topology.DATADOG_ROLE, instance["dbname"]))
    finally:
        for conn in held:
            conn.close()
