"""Each alert's threshold and window, defined once for both halves of the lab.

The Prometheus rule (configs/prometheus/rules/postgres.yml) holds `$threshold`, `$for` and
`$range` where these values go; components/render/prometheus.py fills them in. The Datadog
monitor (components/render/datadog_monitors.py) is built from the same values, so the two
halves cannot drift. Alerts without a Datadog signal (the exporter's own health) have none.
"""
from __future__ import annotations

from dataclasses import dataclass

# Datadog evaluates metric monitors over whole minutes (last_1m is the shortest window); the
# Agent runs the postgres check every 15 s (its default min_collection_interval).
DATADOG_MIN_WINDOW_S = 60
CHECK_INTERVAL_S = 15


@dataclass(frozen=True)
class Alert:
    """One alert of the lab, in Prometheus's units."""
    name: str
    threshold: float
    for_s: int = 0           # how long the condition holds before it fires (Prometheus `for:`)
    range_s: int = 0         # the expression's own look-back (`increase(...[5m])`), 0 when none
    scenario: str = ""       # how to make it fire in the lab (a workload scenario, or by hand)
    look_at: str = ""        # where to look in Datadog DBM when it fires
    datadog: bool = True     # False: Datadog has no signal for it

    def substitutions(self) -> dict[str, str]:
        """What the Prometheus rule's placeholders become."""
        return {"threshold": number(self.threshold), "for": duration(self.for_s), "range": duration(self.range_s)}

    def datadog_window(self) -> str:
        """The monitor's evaluation window: the rule's `for` (or its range), at least Datadog's minimum."""
        seconds = max(self.for_s, self.range_s, DATADOG_MIN_WINDOW_S)
        minutes = -(-seconds // 60)
        return f"last_{minutes}m"


def number(value: float) -> str:
    """A threshold as rules and queries write it: whole numbers bare, others in the shortest form
    that parses back to the same float (repr), so the number in a query equals the threshold."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def duration(seconds: int) -> str:
    """A Prometheus duration for whole seconds: 90 -> 1m30s, 300 -> 5m, 0 -> 0s."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


# The transaction-ID space PostgreSQL wraps around in (2^31): Datadog reports what is left
# (postgresql.before_xid_wraparound), Prometheus the age; the same threshold serves both.
XID_WRAPAROUND = 2 ** 31

ALERTS = (
    Alert("PostgresExporterDown", 0, for_s=60, datadog=False,
          scenario="docker stop credit-lab-<stack>-postgres-exporter",
          look_at="(Prometheus only: the Agent's check replaces the exporter)"),
    Alert("PostgresDown", 0, for_s=60,
          scenario="docker stop credit-lab-<stack>-postgres",
          look_at="DBM > Databases: the host stops reporting; the check's postgres.can_connect is CRITICAL"),
    Alert("PostgresExporterCollectorFailing", 0, for_s=300, datadog=False,
          scenario="REVOKE pg_monitor FROM postgres_exporter (as postgres)", look_at="(Prometheus only)"),
    Alert("PostgresTooManyConnections", 0.8, for_s=60,
          scenario="the connection-storm scenario",
          look_at="DBM > Databases > Connections, grouped by application: the storm's sessions"),
    Alert("PostgresLongRunningTransaction", 300, for_s=60,
          scenario="by hand: BEGIN; SELECT 1; in psql, left open for 5 minutes",
          look_at="DBM > Query Samples sorted by duration, and Active Connections"),
    Alert("PostgresIdleInTransaction", 30, for_s=30,
          scenario="the idle-in-transaction scenario",
          look_at="DBM > Active Connections filtered to state: idle in transaction; the session's last query"),
    Alert("PostgresLockWaits", 0.25, for_s=30, range_s=60,
          scenario="the lock-contention scenario",
          look_at="DBM > Active Connections grouped by wait event (Lock: transactionid, tuple) "
                  "and the blocking session"),
    Alert("PostgresDeadlocks", 0, range_s=300,
          scenario="by hand: two psql sessions updating the same two rows in opposite order",
          look_at="the PostgreSQL logs (deadlock detected) and DBM > Query Samples around that time"),
    Alert("PostgresHighRollbackRate", 0.1, for_s=300, range_s=300,
          scenario="by hand: a loop of transactions that roll back (no scenario: the services' operations commit)",
          look_at="APM error traces of the credit services, and DBM > Query Metrics by errors"),
    Alert("PostgresLowCacheHitRatio", 0.9, for_s=600,
          scenario="possibly slow-query: its ledger scans read past shared_buffers (128 MB); "
                   "not measured by the tests",
          look_at="DBM > Query Metrics sorted by shared blocks read; the Seq Scan plans in Explain Plans"),
    Alert("PostgresTransactionIdWraparound", 1_000_000_000, for_s=600,
          scenario="not reproducible in the lab: it takes a billion transactions",
          look_at="DBM > Databases: autovacuum activity; long transactions that hold back freezing"),
    Alert("PostgresRestarted", 300,
          scenario="docker restart credit-lab-<stack>-postgres",
          look_at="DBM > Databases: the host's uptime; the PostgreSQL logs of the restart"),
)
BY_NAME = {alert.name: alert for alert in ALERTS}


@dataclass(frozen=True)
class ServiceSlo:
    """What the APM monitors of every credit service watch (no Prometheus counterpart: the
    open-source half has no traces)."""
    p95_latency_s: float = 0.5
    error_rate: float = 0.05
    window_s: int = 600


SERVICE_SLO = ServiceSlo()
