"""Log format shared by the supervisor and the service processes: one line, trace ids included."""
import logging
import sys

from .tracing import TraceIdFilter

FORMAT = "%(asctime)s %(levelname)s {label}[%(process)d] %(name)s: %(message)s %(dd)s"


def configure(label: str = "credit-workload", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT.replace("{label}", label)))
    handler.addFilter(TraceIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
