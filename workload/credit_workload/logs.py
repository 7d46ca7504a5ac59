"""Log format shared by the supervisor and the service processes: one line, trace ids included."""
import logging
import sys

from .tracing import TraceIdFilter

FORMAT = "%(asctime)s %(levelname)s {label}[%(process)d] %(name)s: %(message)s %(dd)s"


def configure(label: str = "credit-workload", level: str = "info") -> None:
    """Root (and so ddtrace) at INFO; the workload's own logger at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT.replace("{label}", label)))
    handler.addFilter(TraceIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("credit_workload").setLevel(level.upper())
