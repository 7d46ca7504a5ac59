"""postgres_exporter 0.17 (the line components/versions.py accepts): its command arguments and environment.

Collectors are switched only by `--[no-]collector.X` flags (no env form in 0.17.x).
"""
from components import topology
from components.render import probe

# The password travels in this variable, set by the component from a secret; never in a file.
PASSWORD_ENV = "DATA_SOURCE_PASS"

# Off by default in 0.17 and what a DBA of this lab wants on top of the defaults
# (database, locks, stat_database, stat_user_tables, statio_user_tables, wal, ...).
# stat_statements is bounded by the exporter itself: 0.17 exports at most the top 100
# statements by total time (a fixed `LIMIT 100`; the `.limit` flag only exists from 0.19).
EXTRA_COLLECTORS = (
    "stat_statements",
    "long_running_transactions",
    "postmaster",
    "stat_activity_autovacuum",
    "database_wraparound",
    "process_idle",
)


def flags(listen_address: str = f":{topology.EXPORTER_PORT}") -> list[str]:
    """The exporter's arguments; tests pass a 127.0.0.1 address with a free port."""
    return [f"--collector.{name}" for name in EXTRA_COLLECTORS] + [
        f"--web.listen-address={listen_address}",
        "--log.level=info",
    ]


def env(host: str, port: int) -> dict[str, str]:
    """Connection settings without the password (that goes in PASSWORD_ENV)."""
    if not host or any(c in host for c in "/?@ "):
        raise ValueError(f"exporter database host must be a plain host name or address, got {host!r}")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"exporter database port must be an integer in 1..65535, got {port!r}")
    return {
        # Table collectors only read the connected database: point it at the credit database.
        "DATA_SOURCE_URI": f"{host}:{port}/{topology.DATABASE}?sslmode=disable",
        "DATA_SOURCE_USER": topology.EXPORTER_ROLE,
    }


# The landing page: answers without querying PostgreSQL (a /metrics scrape would).
HEALTH_PATH = "/"


def healthcheck() -> list[str]:
    """Docker healthcheck test."""
    return probe.http(topology.EXPORTER_PORT, HEALTH_PATH)
