"""How many connections the Datadog Agent's `postgres` check holds, from its source
(DataDog/integrations-core `postgres/datadog_checks/postgres/`, datadog-postgres 23.x, 2025-2026):
- one main connection to `dbname`, outside any pool (postgres.py `_new_connection`: "Keeping this
  main connection outside of the pool");
- one psycopg pool per database it reaches, `min_size` 0 and `max_size` 2 (connection_pool.py,
  LRUConnectionPoolManager), at most `max_connections` pools, the least recently used evicted
  (default 30, spec.yaml `display_default`);
- the databases it reaches: `dbname` (query metrics, samples, activity, settings), every
  non-template database (schema collection, `collect_schemas`), and the database of any sampled
  query it explains.
Older checks read `max_connections` as a cap on pooled connections, which is never more.
"""
POOL_MAX_SIZE = 2
DEFAULT_MAX_CONNECTIONS = 30


def pools(instance: dict, databases: int) -> int:
    return min(instance.get("max_connections", DEFAULT_MAX_CONNECTIONS), databases)


def most_connections(instance: dict, databases: int) -> int:
    """The most connections the check can hold on a server with `databases` it can reach."""
    return 1 + POOL_MAX_SIZE * pools(instance, databases)


def bound(instance: dict) -> int:
    """The most connections the check can hold, however many databases there are."""
    return 1 + POOL_MAX_SIZE * instance.get("max_connections", DEFAULT_MAX_CONNECTIONS)


# ---- what one run of the check sends: its service checks (the check's source, read) -----------------
# datadog_checks_base AgentCheck.run: check_initializations run first, each put back and re-raised
# while it fails, so check() does not run; PostgreSql.__init__ queues _validate_connection first
# (validate.py validate_connection: opens the main connection and re-raises when it cannot).
# PostgreSql.check: postgres.can_connect CRITICAL on any error (then re-raised), OK otherwise, with
# the service check tags: the instance's tags plus the ones the config presets (config.py
# `_build_tags`: server:<host>, port:<port>, db:<dbname>) and host:. datadog-agent
# pkg/collector/runner worker.go: datadog.agent.check_status with `check:<name>` and the Agent's host
# name, CRITICAL when the run returned an error, WARNING when it returned none but the check reported
# warnings (such as `undefined-explain-function`), OK otherwise - only with
# integration_check_status_enabled (off by default since Agent 7.47, its release notes).
CAN_CONNECT = "postgres.can_connect"
CHECK_STATUS = "datadog.agent.check_status"
OK, WARNING, CRITICAL = 0, 1, 2


class CheckRuns:
    """The postgres check's runs on one Agent, from its start; `run(reachable)` returns the service
    checks that run sends as (name, status, tags), `host:` included."""

    def __init__(self, instance: dict, agent_host: str, check_status_enabled: bool):
        self.instance, self.agent_host, self.check_status_enabled = instance, agent_host, check_status_enabled
        self.initialized = False

    def run(self, reachable: bool, warned: bool = False) -> list[tuple[str, int, set[str]]]:
        """One run; `warned`: the check ran but reported a warning (a setup step missing)."""
        sent = []
        failed = not reachable
        if not self.initialized and reachable:
            self.initialized = True
        if self.initialized:   # check() ran: its own service check, whatever happened after
            tags = {*self.instance.get("tags", []), f"server:{self.instance['host']}",
                    f"port:{self.instance['port']}", f"db:{self.instance['dbname']}",
                    f"host:{self.instance['reported_hostname']}"}
            sent.append((CAN_CONNECT, CRITICAL if failed else OK, tags))
        if self.check_status_enabled:
            status = CRITICAL if failed else WARNING if warned else OK
            sent.append((CHECK_STATUS, status, {"check:postgres", f"host:{self.agent_host}"}))
        return sent


# ---- Datadog's Docker install (docs: "Docker Agent", and "Docker log collection", Linux tab) --------
# The host paths the Agent container mounts read-only, and where: the oracle of the Agent's binds.
DOCKER_INSTALL_BINDS = {"/var/run/docker.sock": "/var/run/docker.sock", "/proc/": "/host/proc/",
                        "/sys/fs/cgroup/": "/host/sys/fs/cgroup",
                        "/var/lib/docker/containers": "/var/lib/docker/containers"}
