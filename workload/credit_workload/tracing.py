"""Tracing setup for a service process, root spans per business operation, trace ids in logs.

setup() must run before psycopg2 is imported anywhere in the process: it fixes the process-wide
DD_SERVICE (DBM's calling service, `ddps`, is per process: FACTS.md §3) and then loads
`ddtrace.auto`, which instruments psycopg2 and prepends the DBM comment with the traceparent.
"""
import contextlib
import logging
import os
import time

from .settings import ROOT_SPAN, Settings, service_name

_tracer = None
AGENT_DOWN_QUIET = 600.0   # seconds: after the first "failed to send", ddtrace's repeats are dropped


class _AgentDownFilter(logging.Filter):
    """Keep one line when the trace agent is unreachable instead of one per flush (no log spam)."""

    def __init__(self):
        super().__init__()
        self._last = -AGENT_DOWN_QUIET

    def filter(self, record: logging.LogRecord) -> bool:
        if "failed to send" not in str(record.msg):
            return True
        now = time.monotonic()
        if now - self._last < AGENT_DOWN_QUIET:
            return False
        self._last = now
        record.levelno, record.levelname = logging.WARNING, "WARNING"   # expected without an agent
        record.msg = str(record.msg) + " (trace agent unreachable: repeats suppressed for %ds)"
        record.args = tuple(record.args or ()) + (int(AGENT_DOWN_QUIET),)
        return True


def setup(settings: Settings, process_service: str):
    """Configure ddtrace for this process (unified service tagging, DBM full) and load it.

    With tracing off (no Agent: the stack has no Datadog key) ddtrace is not loaded at all: its
    patched psycopg2 would still wrap every cursor and call (about a fifth of an untraced
    process's CPU, bench/profile_workload.py) and, disabled, adds no DBM comment either."""
    global _tracer
    if not settings.trace_enabled:
        _tracer = None
        return None
    os.environ["DD_SERVICE"] = process_service
    os.environ["DD_ENV"] = settings.dd_env
    os.environ["DD_VERSION"] = settings.dd_version
    os.environ.setdefault("DD_DBM_PROPAGATION_MODE", settings.dbm_mode)
    os.environ["DD_TRACE_ENABLED"] = "true" if settings.trace_enabled else "false"
    # Nothing else of ddtrace is wanted here; these also keep a missing agent quiet.
    for var in ("DD_REMOTE_CONFIGURATION_ENABLED", "DD_INSTRUMENTATION_TELEMETRY_ENABLED",
                "DD_TRACE_STARTUP_LOGS", "DD_DATA_STREAMS_ENABLED", "DD_PROFILING_ENABLED",
                "DD_CODE_ORIGIN_FOR_SPANS_ENABLED", "DD_DYNAMIC_INSTRUMENTATION_ENABLED",
                "DD_EXCEPTION_REPLAY_ENABLED",
                # Publishing each span switch to an OpenTelemetry thread context (for an external
                # OTel profiler): work on every span that nothing in the lab reads (issue 11's profile).
                "DD_TRACE_OTEL_CTX_ENABLED",
                # ddtrace's own stderr handler would print each of its lines a second time, unformatted
                "DD_TRACE_LOG_STREAM_HANDLER"):
        os.environ.setdefault(var, "false")
    import ddtrace.auto  # noqa: F401  (documented way to instrument, must come first)
    from ddtrace.trace import tracer
    quiet = _AgentDownFilter()
    for name in ("ddtrace", "ddtrace.internal.writer.writer", "ddtrace.internal.writer"):
        logging.getLogger(name).addFilter(quiet)
    _tracer = tracer
    return tracer


def flush() -> None:
    if _tracer is not None:
        try:
            _tracer.flush()
        except Exception:  # noqa: BLE001, S110 - a missing agent must not fail shutdown
            pass


@contextlib.contextmanager
def root_span(service_key: str, operation: str, scenario: str):
    """A root span for one business operation (None when ddtrace is not loaded)."""
    if _tracer is None:
        yield None
        return
    with _tracer.trace(ROOT_SPAN, service=service_name(service_key), resource=operation,
                       span_type="worker") as span:
        span.set_tag("credit.service", service_key)
        span.set_tag("credit.operation", operation)
        span.set_tag("credit.scenario", scenario)
        yield span


def log_ids() -> str:
    """'dd.trace_id=… dd.span_id=…' of the active span, for log lines ('' when none)."""
    if _tracer is None:
        return ""
    # ddtrace's public log-correlation helper: the same id format Datadog's log pipeline joins on.
    ctx = _tracer.get_log_correlation_context()
    trace_id, span_id = ctx.get("dd.trace_id", "0"), ctx.get("dd.span_id", "0")
    if trace_id in ("0", ""):
        return ""
    return f"dd.trace_id={trace_id} dd.span_id={span_id}"


class TraceIdFilter(logging.Filter):
    """Adds %(dd)s to every log record: the active trace and span ids, so logs join traces."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.dd = log_ids()
        return True
