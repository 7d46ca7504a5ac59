"""`python -m credit_workload`: validate every setting, then supervise one process per service.

Bad settings: one line on stderr naming the variable, exit status 2.
"""
import os
import sys


def main() -> int:
    from .settings import SettingsError, parse
    try:
        settings = parse(os.environ)
    except SettingsError as exc:
        print(f"credit-workload: error: {exc}", file=sys.stderr)
        return 2
    from . import logs
    from .supervisor import Supervisor
    logs.configure("credit-workload", settings.log_level)
    return Supervisor(settings).run()


if __name__ == "__main__":
    sys.exit(main())
