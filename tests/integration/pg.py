"""The lab's PostgreSQL container on the Docker Engine (tests/integration/containers.py).

LabPostgres creates the `postgres` container exactly as the Pulumi program declares it (entrypoint,
command, env, uploads with the provider's modes, shm size, stop signal, memory, data volume), on the
image the stack pins: PID 1 starts as root, our wrapper steps down to uid 70 with gosu for the
reapply script, then the image's entrypoint initializes an empty volume or skips, and execs
`postgres`. Nothing here chmods, chowns or re-types a flag: what the container would do wrong, this
does wrong too.

Where it differs from a Docker host, on purpose:
- the stack's passwords are set as stack config secrets (what `pulumi config set --secret` does),
  and a test may shrink the seed below the config's minimum or drop a variable through env
  overrides of variables the program sets;
- clients reach the server at its address on the test network, port 5432 (the lab's clients do
  the same from their containers); no host port is published (tests/integration/containers.py says why).

Typical use (see conftest.py for the shared session fixture):
    pg = LabPostgres(seed_customers=2000); pg.start()
    with pg.connect("datadog", "creditdb") as conn: ...
    pg.passwords["credit_app"] = "new"; pg.restart()    # `pulumi config set` + `pulumi up`
    pg.destroy()
"""
from __future__ import annotations

import re
import secrets

import psycopg2

from components import settings as lab_settings, topology
from components.render import postgres as render
from tests.integration import images, program
from tests.integration.containers import Container, Network, StopWaiting, Volume, wait_for

# Stack config key of each role's password (components/settings.py reads these).
PASSWORD_KEYS = {topology.SUPERUSER: "postgresPassword", topology.WORKLOAD_ROLE: "workloadPassword",
                 topology.DATADOG_ROLE: "datadogPassword", topology.EXPORTER_ROLE: "exporterPassword"}
# A healthy server accepts in milliseconds; this only turns a lost SYN or peer into an error.
CLIENT_CONNECT_TIMEOUT_S = 10


class InitError(StopWaiting, RuntimeError):
    """The container stopped before it was healthy; the message carries its log."""


def _libpq_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class LabPostgres:
    def __init__(self, seed_customers: int = 2000):
        # Its own network, as each stack has (`credit-lab-<stack>-net`): the lab's other
        # containers join it and find this one by its alias.
        self.network = Network()
        self.seed_customers = seed_customers
        # role -> password, set as stack config secrets at each start.
        self.passwords: dict[str, str] = {role: secrets.token_urlsafe(18) for role in topology.PASSWORD_ENV}
        self.env_overrides: dict[str, str | None] = {}   # variables the program sets, changed or dropped
        self.volume = Volume("pgdata")
        self.container: Container | None = None
        self.port = topology.POSTGRES_PORT
        self._old_logs: list[str] = []

    # ---- what the program declares --------------------------------------------------------------
    def stack(self, config: dict | None = None, secret: dict | None = None):
        """The program run for this server's stack config (plus `config` and `secret`): what the
        lab's other containers are created from too."""
        seed_min, _ = lab_settings.SEED_RANGE
        config = {"seedCustomers": str(max(self.seed_customers, seed_min)), **(config or {})}
        return program.stack(config, {**{PASSWORD_KEYS[role]: pw for role, pw in self.passwords.items()},
                                      **(secret or {})})

    def container_config(self):
        overrides = dict(self.env_overrides)
        if self.seed_customers < lab_settings.SEED_RANGE[0]:
            overrides.setdefault(topology.SEED_CUSTOMERS_ENV, str(self.seed_customers))
        return program.container_config(self.stack(), topology.POSTGRES_ALIAS, images.postgres(),
                                        env_overrides=overrides, volumes={render.DATA_DIR: self.volume})

    @property
    def ready_timeout_s(self) -> int:
        """The longest a first start may take before `pulumi up` gives up: the container's declared
        `wait_timeout` for this server's seed."""
        return program.container_inputs(self.stack(), topology.POSTGRES_ALIAS)["waitTimeout"]

    def healthcheck_test(self) -> list[str]:
        return program.healthcheck_of(program.container_inputs(self.stack(), topology.POSTGRES_ALIAS))

    # ---- lifecycle -----------------------------------------------------------------------------
    @property
    def host(self) -> str:
        assert self.container is not None, "not started"
        return self.container.ip

    def start(self, wait: bool = True) -> None:
        """Create and start the container; with `wait`, return once its healthcheck passes (what
        the component's `wait=True` does), or raise InitError when the container stops first."""
        self.container = Container(self.network, self.container_config())
        self.container.start()
        if wait:
            self.wait_healthy()

    def wait_healthy(self) -> None:
        test = self.healthcheck_test()

        def healthy():
            if not self.container.running:
                raise InitError(f"the postgres container exited ({self.container.exit_code}):\n"
                                f"{self.container.logs()[-4000:]}")
            return self.container.healthcheck(test)
        try:
            wait_for(healthy, self.ready_timeout_s, "postgres container healthy", interval=0.2)
        except InitError:
            self._retire()
            raise
        except TimeoutError as exc:
            self._retire()
            raise InitError(str(exc)) from exc

    def stop(self) -> None:
        """docker stop + rm: SIGINT (the image's STOPSIGNAL), the volume stays."""
        if self.container is not None:
            self.container.stop()
            self._retire()

    def _retire(self) -> None:
        self._old_logs.append(self.container.logs())
        self.container.remove()
        self.container = None

    def restart(self) -> None:
        """What `pulumi up` does after a config change: a new container on the same volume."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        self.network.remove()
        self.volume.remove()

    # ---- clients ---------------------------------------------------------------------------------
    def dsn(self, role: str = topology.WORKLOAD_ROLE, dbname: str = topology.DATABASE) -> str:
        """libpq key=value DSN over the test network, with the role's current password. A lost
        connection is an error within seconds, not a hang (a test suite that stops is worse than
        one that fails): connect_timeout and TCP keepalives, as the workload's own sessions have."""
        return (f"host={self.host} port={self.port} dbname={_libpq_quote(dbname)} "
                f"user={_libpq_quote(role)} password={_libpq_quote(self.passwords[role])} "
                f"connect_timeout={CLIENT_CONNECT_TIMEOUT_S} keepalives=1 keepalives_idle=10 "
                "keepalives_interval=5 keepalives_count=3")

    def connect(self, role: str = topology.WORKLOAD_ROLE, dbname: str = topology.DATABASE, **kw):
        return psycopg2.connect(self.dsn(role, dbname), **kw)

    def healthcheck(self) -> bool:
        """The container's healthcheck command, run in the container (docker exec)."""
        return self.container is not None and self.container.running and \
            self.container.healthcheck(self.healthcheck_test())

    def log_text(self) -> str:
        """Everything the server's containers have printed (docker logs of each, in order)."""
        return "\n".join([*self._old_logs, self.container.logs() if self.container else ""])

    @property
    def script_seconds(self) -> dict[str, float]:
        """Init script -> seconds, from the timestamps of the entrypoint's `running` lines."""
        lines = self.container.lines if self.container else []
        marks = [(t, m.group(1)) for t, _, line in lines
                 if (m := re.search(r": running \S*/([^/\s]+)$", line))]
        ends = [t for t, _, line in lines if "init process complete" in line or "re-applying" in line]
        result = {}
        for (started, name), (next_started, _) in zip(marks, marks[1:] + [(max(ends + [0]), "")]):
            result[name] = max(0.0, next_started - started)
        return result
