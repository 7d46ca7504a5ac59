"""One service as its own process: `python -m credit_workload.service <key>` (the supervisor starts these).

Its own process so that DBM names it as its own calling service (`ddps` is process-wide, FACTS.md §3).
Order matters: settings, then tracing (ddtrace.auto), and only then anything importing psycopg2.
"""
import logging
import os
import signal
import sys
import threading

from . import logs, tracing
from .settings import SettingsError, parse, service_name


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = parse(os.environ)
        if len(argv) != 1:
            raise SettingsError("argv", argv, "usage: python -m credit_workload.service <service>")
        name = service_name(argv[0])
    except SettingsError as exc:
        print(f"credit-workload: error: {exc}", file=sys.stderr)
        return 2
    tracing.setup(settings, name)
    logs.configure(name, settings.log_level)
    from .runner import ServiceRunner  # imports psycopg2: only after ddtrace.auto

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner = ServiceRunner(settings, argv[0], stop)
    logging.getLogger("credit_workload").info(
        "%s: scenario %s, target %s ops/s, tracing %s (DBM %s)", name, settings.scenario,
        "max" if runner.target is None else f"{runner.target:.1f}", "on" if settings.trace_enabled else "off",
        settings.dbm_mode)
    runner.start()
    stop.wait(settings.duration)
    stop.set()
    runner.join()
    runner.report(final=True)
    tracing.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
