"""The Credit Lab workload: five credit services generating traced SQL.

`python -m credit_workload` runs it (one process per service under a supervisor). For tests and
benchmarks, `run_in_process` runs services as threads of the calling process for a while.
Importing this package loads neither psycopg2 nor ddtrace (settings must be importable without them).
"""


def run_in_process(env, seconds: float, services=None, out=None, on_ack=None, traced: bool = False):
    """Run services as threads of this process for `seconds`; returns the ServiceRunners (stats inside).

    env: the same variables the container gets (validated by settings.parse). traced=True loads
    ddtrace first (the calling process then shows as one DBM calling service, see service.py).
    """
    import threading

    from . import settings as _settings
    from . import tracing
    parsed = _settings.parse(env)
    if traced:
        tracing.setup(parsed, "credit-workload")
    from .runner import run_services
    return run_services(parsed, services or parsed.services, threading.Event(), duration=seconds,
                        out=out, on_ack=on_ack)
