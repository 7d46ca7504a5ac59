"""Init and restart of the real container (tests/integration/containers.py): idempotent scripts, new passwords reach an
existing data volume, missing settings stop the container with a clear message, the healthcheck
waits for the end of init."""
import os

import psycopg2
import pytest

from components import topology
from tests.integration.containers import StopWaiting, wait_for
from tests.integration.pg import InitError, LabPostgres

ROLES = tuple(topology.PASSWORD_ENV)
# Seeds for ~2 s on 2 cores: long enough to sample the healthcheck many times during the seed.
SEED_LONG_ENOUGH_TO_SAMPLE = 15_000
CREDIT_TABLES = ("customers", "credit_applications", "credit_accounts", "gl_accounts", "journal_entries",
                 "ledger_lines", "payments", "statements", "collection_cases")


@pytest.fixture(scope="module")
def own_postgres():
    """A server these tests may restart and re-password (the shared one stays untouched)."""
    server = LabPostgres(seed_customers=100)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def _can_login(server, role, password, dbname=topology.DATABASE) -> bool:
    try:
        psycopg2.connect(host=server.host, port=server.port, dbname=dbname, user=role, password=password).close()
        return True
    except psycopg2.OperationalError as exc:
        assert "password authentication failed" in str(exc), exc
        return False


def _snapshot(server) -> dict:
    """Everything init scripts could change: both databases dumped, roles and their grants."""
    dumps = {}
    for dbname in ("postgres", topology.DATABASE):
        # The image's own pg_dump, over TCP with the password (as a client would).
        result = server.container.exec(["pg_dump", "-h", "127.0.0.1", "-U", topology.SUPERUSER, dbname],
                                       env={"PGPASSWORD": server.passwords[topology.SUPERUSER]}, timeout=120)
        assert result.returncode == 0, result.stderr
        dumps[dbname] = result.stdout
        # pg_dump 15.14+ brackets its output with a random \restrict key: not database content.
        dumps[dbname] = "\n".join(line for line in dumps[dbname].splitlines()
                                  if not line.startswith(("\\restrict", "\\unrestrict")))
    with server.connect(topology.SUPERUSER, "postgres") as conn, conn.cursor() as cur:
        # rolpassword is left out on purpose: see test_rerunning_every_script_changes_nothing.
        cur.execute("SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,"
                    " rolbypassrls, rolconnlimit, rolconfig FROM pg_roles ORDER BY rolname")
        roles = cur.fetchall()
        cur.execute("SELECT roleid::regrole::text, member::regrole::text FROM pg_auth_members ORDER BY 1, 2")
        members = cur.fetchall()
        cur.execute("SELECT datname, datdba::regrole::text, datacl::text, datconnlimit FROM pg_database ORDER BY 1")
        databases = cur.fetchall()
    return {"dumps": dumps, "roles": roles, "members": members, "databases": databases}


def test_seed_is_consistent(own_postgres):
    """On a server no workload has touched yet (the shared one may have moved on)."""
    with own_postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers")
        assert cur.fetchone()[0] == own_postgres.seed_customers
        for table in CREDIT_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] > 0, f"{table} is empty"
        cur.execute("SELECT count(*) FROM ledger_lines")
        assert cur.fetchone()[0] >= 10 * own_postgres.seed_customers
        # Every journal entry balances.
        cur.execute("SELECT count(*) FROM (SELECT 1 FROM ledger_lines GROUP BY journal_entry_id"
                    " HAVING sum(amount) <> 0) AS unbalanced")
        assert cur.fetchone()[0] == 0
        # Each account's balance is the sum of its receivable lines.
        cur.execute("SELECT count(*) FROM credit_accounts a LEFT JOIN (SELECT credit_account_id, sum(amount) AS s"
                    " FROM ledger_lines WHERE gl_code = 'loans_receivable' GROUP BY 1) l ON l.credit_account_id = a.id"
                    " WHERE a.balance <> coalesce(l.s, 0)")
        assert cur.fetchone()[0] == 0
        # Delinquent accounts have exactly one open collection case.
        cur.execute("SELECT count(*) FROM credit_accounts a WHERE status = 'delinquent' AND NOT EXISTS"
                    " (SELECT 1 FROM collection_cases c WHERE c.credit_account_id = a.id AND c.status = 'open')")
        assert cur.fetchone()[0] == 0
        # Sequences were moved past the seeded ids: a default insert does not collide.
        cur.execute("INSERT INTO customers (full_name, email, national_id, birth_date, region, annual_income)"
                    " VALUES ('New Person', 'new@example.test', 'NEW-1', '1990-01-01', 'north', 1) RETURNING id")
        assert cur.fetchone()[0] > own_postgres.seed_customers
        conn.rollback()


def test_rerunning_every_script_changes_nothing(own_postgres):
    """A new container on the volume re-runs every init script (reapply): nothing changes."""
    before = _snapshot(own_postgres)
    assert "CREATE TABLE public.ledger_lines" in before["dumps"][topology.DATABASE]
    own_postgres.restart()            # raises on any error
    log = own_postgres.container.logs()
    for name in ("10-roles.sql", "20-databases.sql", "30-monitoring.sql", "40-schema.sql", "50-seed.sql"):
        assert f"running /docker-entrypoint-initdb.d/{name}" in log, f"{name} was not re-run:\n{log[-2000:]}"
    assert "Skipping initialization" in log
    after = _snapshot(own_postgres)
    assert after == before
    # Passwords are set again on every run (a new SCRAM salt, hence not compared above), to the
    # same values: every role still logs in with its password.
    for role in ROLES:
        assert _can_login(own_postgres, role, own_postgres.passwords[role])


def test_a_changed_password_reaches_an_existing_database_on_restart(own_postgres):
    old = dict(own_postgres.passwords)
    for role in ROLES:
        own_postgres.passwords[role] = f"changed-{role}-{os.urandom(6).hex()}"
    # Passwords are data, not SQL or shell: quotes, spaces, backslashes, $ and :vars pass intact.
    own_postgres.passwords[topology.WORKLOAD_ROLE] = "it's a \\ \"p@ss\" $HOME :'x' ;--"
    own_postgres.restart()            # `pulumi config set --secret ...` then `pulumi up`
    for role in ROLES:
        assert _can_login(own_postgres, role, own_postgres.passwords[role]), role
        assert not _can_login(own_postgres, role, old[role]), role
    # Seed data survived (the volume is kept; the seed does not run twice).
    with own_postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers")
        assert cur.fetchone()[0] == own_postgres.seed_customers


def test_restart_restores_monitoring_objects_lost_from_a_database(own_postgres):
    with own_postgres.connect(topology.SUPERUSER) as conn, conn.cursor() as cur:
        cur.execute("DROP FUNCTION datadog.explain_statement(text); REVOKE pg_monitor FROM datadog")
    own_postgres.restart()
    with own_postgres.connect(topology.DATADOG_ROLE) as conn, conn.cursor() as cur:
        cur.execute("SELECT datadog.explain_statement('SELECT 1')")
        assert "Plan" in cur.fetchone()[0][0]
        cur.execute("SELECT pg_has_role('pg_monitor', 'USAGE')")
        assert cur.fetchone()[0] is True


def test_restart_seeds_a_database_whose_seed_never_committed(own_postgres):
    """An init cut short during the seed leaves empty tables (the seed is one transaction);
    the next start's reapply seeds them."""
    with own_postgres.connect(topology.SUPERUSER) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(CREDIT_TABLES[:3] + CREDIT_TABLES[4:])} RESTART IDENTITY")
    own_postgres.restart()
    with own_postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), max(id) FROM customers")
        assert cur.fetchone() == (own_postgres.seed_customers, own_postgres.seed_customers)
        cur.execute("SELECT count(*) FROM ledger_lines")
        assert cur.fetchone()[0] >= 10 * own_postgres.seed_customers


def test_a_missing_password_stops_start_of_an_existing_database(own_postgres):
    kept = own_postgres.passwords[topology.WORKLOAD_ROLE]
    own_postgres.passwords[topology.WORKLOAD_ROLE] = ""   # `pulumi config set --secret workloadPassword ""`
    own_postgres.stop()
    with pytest.raises(InitError, match="CREDIT_APP_PASSWORD not set or empty"):
        own_postgres.start()
    own_postgres.passwords[topology.WORKLOAD_ROLE] = kept
    own_postgres.start()              # the temporary server was stopped on the failed attempt
    assert _can_login(own_postgres, topology.WORKLOAD_ROLE, kept)


def test_healthcheck_passes_on_the_server_and_fails_without_one(own_postgres):
    assert own_postgres.healthcheck()
    idle = own_postgres.container.idle_twin()   # the same image and env, no server running
    try:
        assert not idle.healthcheck(own_postgres.healthcheck_test())
    finally:
        idle.remove()


def test_healthcheck_stays_red_while_the_entrypoint_seeds():
    """During first init the entrypoint's temporary server (socket only) runs the seed: creditdb
    answers over the socket, yet the container must not be healthy (clients would find no data).
    Sampled while the log shows the seed running and not yet "init process complete"."""
    server = LabPostgres(seed_customers=SEED_LONG_ENOUGH_TO_SAMPLE)
    during_seed = []   # the healthcheck's answers given while the log showed the seed running
    try:
        server.start(wait=False)
        container, test = server.container, server.healthcheck_test()

        def sample():
            if "init process complete" in container.logs() or not container.running:
                raise StopWaiting("init ended")
            if "seeding" not in container.logs():
                return False
            healthy = container.healthcheck(test)
            if "init process complete" not in container.logs():   # still seeding when it answered
                during_seed.append(healthy)
            return len(during_seed) >= 3
        try:
            wait_for(sample, server.ready_timeout_s, "three healthcheck samples during the seed", interval=0.05)
        except StopWaiting:
            pass
        assert during_seed, "no sample fell inside the seed: raise SEED_LONG_ENOUGH_TO_SAMPLE"
        assert not any(during_seed), f"healthy while the entrypoint's temporary server was seeding: {during_seed}"
        server.wait_healthy()
        assert server.healthcheck()
    finally:
        server.destroy()


def test_passwords_never_reach_the_server_log(own_postgres):
    text = own_postgres.log_text()
    assert "PASSWORD '" not in text   # no statement text carrying a password either
    for password in own_postgres.passwords.values():
        assert password not in text


@pytest.mark.parametrize("role", ROLES)
def test_a_missing_password_env_stops_init_with_a_clear_message(role):
    server = LabPostgres(seed_customers=10)
    server.env_overrides[topology.PASSWORD_ENV[role]] = None
    try:
        # The superuser's is the official entrypoint's own check; the others are 10-roles.sql's.
        expected = "superuser password is not specified" if role == topology.SUPERUSER \
            else topology.PASSWORD_ENV[role]
        with pytest.raises(InitError, match=expected):
            server.start()
    finally:
        server.destroy()


@pytest.mark.parametrize("value,shown", [("10k", "10k"), (None, "unset")], ids=["not-a-number", "unset"])
def test_a_bad_seed_size_stops_init_with_a_clear_message(value, shown):
    # The seed has no default of its own: the program always sets the size (seedCustomers).
    server = LabPostgres(seed_customers=10)
    server.env_overrides[topology.SEED_CUSTOMERS_ENV] = value
    try:
        with pytest.raises(InitError, match=f'{topology.SEED_CUSTOMERS_ENV} must be a whole number.*"{shown}"'):
            server.start()
    finally:
        server.destroy()
