"""The workload's settings: every knob is an environment variable, validated here once.

Pure standard library and self-contained on purpose: the image is built from workload/ alone, so
this module carries its own defaults (the lab's database address, name and role among them) and
imports nothing of the Pulumi program. The program imports it, at preview time, to validate stack
config with exactly the rules the container applies at start, and takes those defaults from here.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

# Where the lab's database is, as the workload container sees it: the PostgreSQL container's alias
# on the lab network, its port, the credit database and the workload's role. The program names the
# container, the database and the role after these (components/topology.py).
DEFAULT_HOST = "postgres"
DEFAULT_PORT = 5432
DEFAULT_DBNAME = "creditdb"
DEFAULT_USER = "credit_app"

# The five services, in the order reports and the supervisor use.
SERVICES = ("applications", "scoring", "payments", "statements", "collections")
SCENARIOS = ("steady", "lock-contention", "slow-query", "idle-in-transaction", "connection-storm")
DEFAULT_SCENARIO = "steady"

# Share of the total rate each service gets (renormalised over the selected services).
WEIGHTS = {"applications": 0.25, "scoring": 0.10, "payments": 0.35, "statements": 0.15, "collections": 0.15}

DEFAULT_RATE = 20.0          # total business operations per second, all services together
MIN_RATE = 0.1
MAX_RATE = 5000.0
RATE_UNPACED = "max"         # WORKLOAD_RATE=max: no pacing, every worker as fast as it can (benchmarks)
DEFAULT_REPORT_INTERVAL = 10.0
MIN_REPORT_INTERVAL, MAX_REPORT_INTERVAL = 1.0, 3600.0
# Seconds an operation keeps retrying a lost database before it gives up (db.py); after that the
# service fails each next operation at once until the database answers (its circuit breaker).
RETRY_WINDOW_S = 20.0
DEFAULT_THREADS = 2          # worker threads (= connections) per service process
MAX_THREADS = 8              # 5 services x 8 (+ scenario extras) stay under credit_app's CONNECTION LIMIT 84
SERVICE_PREFIX = "credit-"
# Every business operation's root span has this name, its resource says which operation it is:
# APM's trace metrics (trace.credit.operation.hits/.errors, p95:trace.credit.operation) then cover
# a whole service, and the lab's Datadog monitors watch them per service.
ROOT_SPAN = "credit.operation"
DEFAULT_ENV = "lab"
DEFAULT_VERSION = "0.1.0"
DBM_MODES = ("disabled", "service", "full", "dynamic_service")
DEFAULT_DBM_MODE = "full"

# Environment variable names (the Pulumi component sets these).
ENV_PGHOST, ENV_PGPORT, ENV_PGDATABASE = "PGHOST", "PGPORT", "PGDATABASE"
ENV_PGUSER, ENV_PGPASSWORD = "PGUSER", "PGPASSWORD"
ENV_RATE = "WORKLOAD_RATE"
ENV_SERVICES = "WORKLOAD_SERVICES"
ENV_SCENARIO = "WORKLOAD_SCENARIO"
ENV_REPORT_INTERVAL = "WORKLOAD_REPORT_INTERVAL"
ENV_THREADS = "WORKLOAD_THREADS"
ENV_DURATION = "WORKLOAD_DURATION"        # optional: stop cleanly after this many seconds
ENV_ACK_LOG = "WORKLOAD_ACK_LOG"          # optional: file that gets one JSON line per committed write (tests)
ENV_LOG_LEVEL = "WORKLOAD_LOG_LEVEL"      # the workload's own log level (ddtrace's stays at info)
LOG_LEVELS = ("debug", "info", "warning", "error")
ENV_STATUS_DIR = "WORKLOAD_STATUS_DIR"    # where each service writes its latest report (healthcheck reads it)
DEFAULT_STATUS_DIR = "/tmp/credit-workload"
ENV_DD_ENV, ENV_DD_VERSION = "DD_ENV", "DD_VERSION"
ENV_DD_AGENT_HOST, ENV_DD_TRACE_AGENT_URL = "DD_AGENT_HOST", "DD_TRACE_AGENT_URL"
ENV_DD_TRACE_ENABLED = "DD_TRACE_ENABLED"
ENV_DD_DBM_MODE = "DD_DBM_PROPAGATION_MODE"

ALL_ENV_VARS = (ENV_PGHOST, ENV_PGPORT, ENV_PGDATABASE, ENV_PGUSER, ENV_PGPASSWORD, ENV_RATE,
                ENV_SERVICES, ENV_SCENARIO, ENV_REPORT_INTERVAL, ENV_THREADS, ENV_DURATION, ENV_ACK_LOG,
                ENV_STATUS_DIR, ENV_LOG_LEVEL, ENV_DD_ENV, ENV_DD_VERSION, ENV_DD_AGENT_HOST,
                ENV_DD_TRACE_AGENT_URL, ENV_DD_TRACE_ENABLED, ENV_DD_DBM_MODE)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting is wrong. `var`, `value` and `allowed` say which, what it was and what is allowed
    (the program maps `var` back to its stack config key); the message reads them out."""

    def __init__(self, var: str, value, allowed: str):
        super().__init__(f"{var}={value!r} is invalid: {allowed}")
        self.var, self.value, self.allowed = var, value, allowed


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    dbname: str
    user: str
    password: str | None   # never printed: see __repr__
    rate: float | None     # None: unpaced
    services: tuple
    scenario: str
    report_interval: float
    threads: int
    duration: float | None
    dd_env: str
    dd_version: str
    trace_enabled: bool
    dbm_mode: str
    ack_log: str | None
    status_dir: str
    log_level: str
    agent_url: str | None  # DD_TRACE_AGENT_URL, else DD_AGENT_HOST: ddtrace resolves it itself

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return (f"Settings(host={self.host!r}, port={self.port}, dbname={self.dbname!r}, user={self.user!r}, "
                f"rate={self.rate}, services={self.services}, scenario={self.scenario!r}, "
                f"threads={self.threads}, trace_enabled={self.trace_enabled})")

    __str__ = __repr__

    def service_rate(self, key: str) -> float | None:
        """This service's share of the total rate (None when unpaced)."""
        return None if self.rate is None else self.rate * service_weights(self.services)[key]

    def connect_kwargs(self, key: str) -> dict:
        """psycopg2.connect() keyword arguments for one service's connections."""
        kwargs = dict(host=self.host, port=self.port, dbname=self.dbname, user=self.user,
                      application_name=service_name(key), connect_timeout=5,
                      keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
        if self.password is not None:
            kwargs["password"] = self.password
        return kwargs


def service_name(key: str) -> str:
    """The Datadog service name and PostgreSQL application_name of a service, e.g. credit-payments."""
    if key not in SERVICES:
        raise SettingsError("service", key, f"expected one of {', '.join(SERVICES)}")
    return SERVICE_PREFIX + key


def service_weights(services) -> dict:
    total = sum(WEIGHTS[s] for s in services)
    return {s: WEIGHTS[s] / total for s in services}


def _number(env, var, default, lo, hi, cast=float):
    raw = env.get(var, "").strip()
    if raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise SettingsError(var, raw, f"expected a number between {lo:g} and {hi:g}") from None
    if isinstance(value, float) and not math.isfinite(value) or not lo <= value <= hi:
        raise SettingsError(var, raw, f"expected a number between {lo:g} and {hi:g}")
    return value


def _port(var: str, raw: str) -> int:
    if not re.fullmatch(r"\d{1,5}", raw.strip()) or not 1 <= int(raw) <= 65535:
        raise SettingsError(var, raw, "expected a TCP port 1-65535")
    return int(raw)


def _bool(env, var, default: bool) -> bool:
    raw = env.get(var, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(var, env[var], "expected true or false")


def parse(env: Mapping[str, str]) -> Settings:
    """Validate every setting from an environment mapping; raise SettingsError on the first bad one."""
    known = {v for v in ALL_ENV_VARS if v.startswith("WORKLOAD_")}
    for var in sorted(env):   # a mistyped knob would otherwise be ignored silently
        if var.startswith("WORKLOAD_") and var not in known:
            raise SettingsError(var, env[var], f"not a workload setting: known are {', '.join(sorted(known))}")
    conn = {
        "host": env.get(ENV_PGHOST, "").strip() or DEFAULT_HOST,
        "port": _port(ENV_PGPORT, env[ENV_PGPORT]) if env.get(ENV_PGPORT, "").strip() else DEFAULT_PORT,
        "dbname": env.get(ENV_PGDATABASE, "").strip() or DEFAULT_DBNAME,
        "user": env.get(ENV_PGUSER, "").strip() or DEFAULT_USER,
        "password": env.get(ENV_PGPASSWORD) or None,
    }

    raw_rate = env.get(ENV_RATE, "").strip()
    if raw_rate.lower() == RATE_UNPACED:
        rate = None
    else:
        try:
            rate = float(raw_rate) if raw_rate else DEFAULT_RATE
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate) or not MIN_RATE <= rate <= MAX_RATE:
            raise SettingsError(ENV_RATE, raw_rate,
                       f"expected total ops/s between {MIN_RATE:g} and {MAX_RATE:g}, or '{RATE_UNPACED}'")

    raw_services = env.get(ENV_SERVICES, "").strip()
    services = tuple(SERVICES)
    if raw_services and raw_services.lower() != "all":
        wanted = [s.strip() for s in raw_services.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in SERVICES]
        if unknown or not wanted:
            raise SettingsError(ENV_SERVICES, raw_services,
                       f"expected a comma list of {', '.join(SERVICES)} (or 'all')")
        services = tuple(s for s in SERVICES if s in wanted)

    scenario = env.get(ENV_SCENARIO, "").strip() or DEFAULT_SCENARIO
    if scenario not in SCENARIOS:
        raise SettingsError(ENV_SCENARIO, scenario, f"expected one of {', '.join(SCENARIOS)}")

    log_level = env.get(ENV_LOG_LEVEL, "").strip().lower() or "info"
    if log_level not in LOG_LEVELS:
        raise SettingsError(ENV_LOG_LEVEL, env[ENV_LOG_LEVEL], f"expected one of {', '.join(LOG_LEVELS)}")

    dbm_mode = env.get(ENV_DD_DBM_MODE, "").strip() or DEFAULT_DBM_MODE
    if dbm_mode not in DBM_MODES:
        raise SettingsError(ENV_DD_DBM_MODE, dbm_mode, f"expected one of {', '.join(DBM_MODES)}")

    agent_url = env.get(ENV_DD_TRACE_AGENT_URL, "").strip() or None
    if agent_url and not re.fullmatch(r"(https?://[^\s/]+(:\d+)?/?|unix://\S+)", agent_url):
        raise SettingsError(ENV_DD_TRACE_AGENT_URL, agent_url, "expected http://host:port or unix:///path")
    if agent_url is None and env.get(ENV_DD_AGENT_HOST, "").strip():
        agent_url = env[ENV_DD_AGENT_HOST].strip()   # ddtrace adds its own default port

    return Settings(
        rate=rate, services=services, scenario=scenario, dbm_mode=dbm_mode, agent_url=agent_url,
        report_interval=_number(env, ENV_REPORT_INTERVAL, DEFAULT_REPORT_INTERVAL,
                                MIN_REPORT_INTERVAL, MAX_REPORT_INTERVAL),
        threads=_number(env, ENV_THREADS, DEFAULT_THREADS, 1, MAX_THREADS, cast=int),
        duration=_number(env, ENV_DURATION, None, 0.1, 10 ** 7),
        ack_log=env.get(ENV_ACK_LOG, "").strip() or None,
        status_dir=env.get(ENV_STATUS_DIR, "").strip() or DEFAULT_STATUS_DIR,
        log_level=log_level,
        dd_env=env.get(ENV_DD_ENV, "").strip() or DEFAULT_ENV,
        dd_version=env.get(ENV_DD_VERSION, "").strip() or DEFAULT_VERSION,
        trace_enabled=_bool(env, ENV_DD_TRACE_ENABLED, True),
        **conn,
    )


def render_env(*, host: str, port: int, dbname: str, user: str, rate=DEFAULT_RATE, services=SERVICES,
               scenario: str = DEFAULT_SCENARIO, report_interval: float = DEFAULT_REPORT_INTERVAL,
               threads: int = DEFAULT_THREADS, dd_env: str = DEFAULT_ENV, dd_version: str = DEFAULT_VERSION,
               agent_host: str | None = None) -> dict:
    """The workload container's environment (all but PGPASSWORD, which the caller adds as a secret).

    One renderer for the Pulumi component and the tests. With no agent_host, tracing is off: no
    spans to send, nothing logged about a missing agent. Validated with parse(): SettingsError.
    """
    env = {
        ENV_PGHOST: host, ENV_PGPORT: str(port), ENV_PGDATABASE: dbname, ENV_PGUSER: user,
        ENV_RATE: str(rate), ENV_SERVICES: ",".join(services) if not isinstance(services, str) else services,
        ENV_SCENARIO: scenario, ENV_REPORT_INTERVAL: f"{float(report_interval):g}", ENV_THREADS: str(threads),
        ENV_DD_ENV: dd_env, ENV_DD_VERSION: dd_version, ENV_DD_DBM_MODE: DEFAULT_DBM_MODE,
        ENV_DD_TRACE_ENABLED: "true" if agent_host else "false",
    }
    if agent_host:
        env[ENV_DD_AGENT_HOST] = agent_host
    parse(env)
    return env
