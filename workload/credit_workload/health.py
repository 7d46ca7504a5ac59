"""Container healthcheck: `python -m credit_workload.health` exits 0 when every selected service
reported recently with all its worker threads alive, else 1 with one line saying which is not.

Reads the status files the services write at each report (no database connection, no ddtrace).
"""
import json
import os
import sys
import time

from .settings import SettingsError, parse, service_name

STALE_REPORTS = 3          # missing this many reports in a row = unhealthy
MIN_STALE_SECONDS = 30.0


def check(env) -> str:
    """'' when healthy, else the reason."""
    settings = parse(env)
    max_age = max(STALE_REPORTS * settings.report_interval, MIN_STALE_SECONDS)
    for key in settings.services:
        path = os.path.join(settings.status_dir, f"{key}.json")
        try:
            with open(path) as f:
                status = json.load(f)
        except (OSError, ValueError):
            return f"{service_name(key)}: no status yet ({path})"
        age = time.time() - status.get("time", 0)
        if age > max_age:
            return f"{service_name(key)}: last report {age:.0f}s ago"
        alive, _, started = str(status.get("workers", "")).partition("/")
        if status.get("workers") == "stopped":
            return f"{service_name(key)}: stopped"
        if started in ("", "0"):
            return f"{service_name(key)}: workers not started (waiting for the database?)"
        if alive != started:
            return f"{service_name(key)}: only {alive} of {started} workers alive"
    return ""


def main() -> int:
    try:
        problem = check(os.environ)
    except SettingsError as exc:
        problem = str(exc)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
