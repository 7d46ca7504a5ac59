"""Runs one service: paced worker threads (each with its own session) and a reporter thread.

Nothing a worker meets ends it: database errors become counted errors, unexpected exceptions
are logged (rate-limited) and counted, and only the stop event ends the loop.
"""
import contextlib
import json
import logging
import os
import random
import sys
import threading
import time

from . import tracing
from .db import GaveUp, Session, Stopped
from .pacing import Pacer
from .services import load_service
from .settings import Settings, service_name
from .stats import Stats, format_line

log = logging.getLogger("credit_workload")
STOP_GRACE = 3.0     # seconds in-flight work gets after stop before its statements are cancelled
LOG_EVERY = 30.0     # at most one log line per error kind per this many seconds


class _RateLimitedLog:
    def __init__(self):
        self._last = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, msg: str, *args) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -LOG_EVERY) < LOG_EVERY:
                return
            self._last[kind] = now
        log.warning(msg, *args)


class ServiceRunner:
    def __init__(self, settings: Settings, key: str, stop: threading.Event, out=None, on_ack=None):
        self.settings, self.key, self.stop = settings, key, stop
        self.name = service_name(key)
        self.service = load_service(key, settings)
        self.target = settings.service_rate(key)
        self.stats = Stats(self.name)
        self.pacer = Pacer(self.target)
        self.out = out or sys.stdout
        self.on_ack = on_ack                  # callback(service_key, operation, result) after COMMIT
        self._warn = _RateLimitedLog()
        self._sessions = []
        self._threads = []
        self._worker_count = 0
        self._ack_lock = threading.Lock()
        # Held open for the runner's life (closed in join), line-buffered: one write per ack.
        self._ack_file = open(settings.ack_log, "a", buffering=1) if settings.ack_log else None  # noqa: SIM115

    # -- workers ---------------------------------------------------------------------------
    def session(self) -> Session:
        """A new session of this service; stop cancels what it still runs after the grace period."""
        session = Session(self.settings.connect_kwargs(self.key), self.stop, self.stats)
        self._sessions.append(session)
        return session

    def repeat(self, next_operation, pause: float = 0.0) -> None:
        """A scenario's unpaced loop on a session of its own, until stop: next_operation() gives
        the Operation, which runs in its own root span and transaction. Counted under its name,
        apart from the paced rate; a write is acknowledged like any other; a failure is counted
        and the loop goes on."""
        session = self.session()
        try:
            while not self.stop.is_set():
                op = next_operation()
                with self._span(op):
                    try:
                        result, _ = session.transaction(op.run, *op.args, read_only=op.read_only)
                    except Stopped:
                        return
                    except GaveUp as exc:
                        self.stats.count(f"{op.name}_failed")
                        self._warn(exc.kind, "%s %s failed: %s", self.name, op.name, exc)
                        self.stop.wait(0.5)
                        continue
                self.stats.count(op.name)
                self._acknowledge(op.name, result or {})
                if pause:
                    self.stop.wait(pause)
        finally:
            session.close()

    @contextlib.contextmanager
    def _span(self, op):
        """The operation's root span (None when tracing is off), tagged with the operation's tags."""
        with tracing.root_span(self.key, op.name, self.settings.scenario) as span:
            if span is not None:
                for tag, value in op.tags.items():
                    span.set_tag(tag, value)
            yield span

    def _work(self, index: int) -> None:
        session = self.session()
        rng = random.Random()
        try:
            while self.pacer.wait(self.stop):
                try:
                    self._one(session, rng)
                except Exception as exc:  # noqa: BLE001 - last line of defence: the worker lives on
                    self.stats.error(type(exc).__name__)
                    self._warn(type(exc).__name__, "%s worker error: %r", self.name, exc)
                    self.stop.wait(0.5)
        finally:
            session.close()

    def _one(self, session: Session, rng: random.Random) -> None:
        op = self.service.next_operation(rng)
        started = time.perf_counter()
        crashed = False
        # Everything about the operation, log lines included, happens inside its root span, so
        # each log line carries the trace id of the operation it is about.
        with self._span(op) as span:
            try:
                result, retries = session.transaction(op.run, *op.args, read_only=op.read_only)
            except Stopped:
                return
            except Exception as exc:  # noqa: BLE001 - GaveUp, or a bug: never the end of the worker
                kind = exc.kind if isinstance(exc, GaveUp) else type(exc).__name__
                crashed = not isinstance(exc, GaveUp)
                if span is not None:
                    span.error = 1
                    span.set_tag("error.type", kind)
                    span.set_tag("error.message", str(exc))
                self.stats.error(kind)
                self._warn(kind, "%s %s %s: %s", self.name, op.name, "crashed" if crashed else "failed",
                           exc if not crashed else repr(exc))
                result = None
            else:
                result = result or {}
                if span is not None:
                    span.set_tag("credit.retries", retries)
                    for tag, value in (result or {}).items():
                        span.set_tag(f"credit.{tag}", value)
                log.debug("%s %s done in %.1f ms: %s", self.name, op.name,
                          (time.perf_counter() - started) * 1000, result)
        if result is None:
            if crashed:
                self.stop.wait(0.5)   # a bug: do not spin on it
            return
        self.stats.ok(time.perf_counter() - started, retries, bool(result.get("replayed")))
        self._acknowledge(op.name, result)

    def _acknowledge(self, operation: str, result: dict) -> None:
        """After COMMIT returned: the ack callback, and the ack log for writes with a key."""
        if self.on_ack is not None:
            self.on_ack(self.key, operation, result)
        if self._ack_file is not None and result.get("idempotency_key"):
            line = json.dumps({"service": self.key, "operation": operation, **result}, default=str)
            with self._ack_lock:
                if self._ack_file is not None:
                    self._ack_file.write(line + "\n")

    # -- reporting -------------------------------------------------------------------------
    def report(self, final: bool = False) -> dict:
        snap = self.stats.take()
        workers = "stopped" if final else f"{self.alive_workers()}/{self._worker_count}"
        # One write per line: the five service processes share the container's stdout, and with
        # PYTHONUNBUFFERED print() writes the text and its newline separately, so two services'
        # lines could run together. A single write of under PIPE_BUF bytes is atomic on a pipe.
        self.out.write(format_line(snap, self.target, workers) + "\n")
        self.out.flush()
        self._write_status(snap, workers)
        return snap

    def _write_status(self, snap: dict, workers: str) -> None:
        """The latest report as a file, for the container healthcheck (python -m credit_workload.health)."""
        status = {"service": self.name, "time": time.time(), "workers": workers, "rate": snap["rate"],
                  "target": self.target, "errors": snap["errors"], "interval": self.settings.report_interval}
        try:
            os.makedirs(self.settings.status_dir, exist_ok=True)
            tmp = os.path.join(self.settings.status_dir, f".{self.key}.json.tmp")
            with open(tmp, "w") as f:
                json.dump(status, f)
            os.replace(tmp, os.path.join(self.settings.status_dir, f"{self.key}.json"))
        except OSError as exc:   # a read-only /tmp must not stop the workload
            self._warn("status", "cannot write status file: %s", exc)

    def _report_loop(self) -> None:
        while not self.stop.wait(self.settings.report_interval):
            self.report()

    # -- lifecycle -------------------------------------------------------------------------
    def _prepare(self) -> bool:
        """Load what the operations pick from (id ranges); retried until the database answers."""
        # A short retry window: say early (once per 30 s) that the database is not there yet.
        session = Session(self.settings.connect_kwargs(self.key), self.stop, self.stats, retry_window=2.0)
        try:
            while not self.stop.is_set():
                try:
                    with tracing.root_span(self.key, "prepare", self.settings.scenario):
                        session.transaction(self.service.prepare)
                    return True
                except Stopped:
                    return False
                except Exception as exc:  # noqa: BLE001 - GaveUp (database not there yet) or a bug
                    self._warn("prepare", "%s waiting for the database: %s", self.name, exc)
                    self.stop.wait(1.0)
            return False
        finally:
            session.close()

    def _guarded(self, loop):
        """Run a scenario's background loop; if it ever raises, log it and run it again (until stop)."""
        def run():
            while not self.stop.is_set():
                try:
                    loop()
                except Exception as exc:  # noqa: BLE001 - never lose the loop to a bug
                    self._warn("background", "%s background loop crashed: %r", self.name, exc)
                    self.stop.wait(1.0)
        return run

    def start(self) -> None:
        def prepared_then_work():
            if not self._prepare():
                return
            workers = [threading.Thread(target=self._work, args=(i,), name=f"{self.key}-{i}", daemon=True)
                       for i in range(self.service.thread_count(self.settings.threads))]
            self._threads.extend(workers)
            self._worker_count = len(workers)
            for t in workers:
                t.start()
            for extra in self.service.background(self):
                t = threading.Thread(target=self._guarded(extra), name=f"{self.key}-bg", daemon=True)
                self._threads.append(t)
                t.start()

        boot = threading.Thread(target=prepared_then_work, name=f"{self.key}-boot", daemon=True)
        reporter = threading.Thread(target=self._report_loop, name=f"{self.key}-report", daemon=True)
        self._threads[:0] = [boot, reporter]
        boot.start()
        reporter.start()

    def alive_workers(self) -> int:
        return sum(t.is_alive() for t in self._threads if t.name.split("-")[-1].isdigit())

    def join(self, grace: float = STOP_GRACE) -> None:
        """After stop: let in-flight operations finish, cancel what is still blocked, then return."""
        deadline = time.monotonic() + grace
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            for session in list(self._sessions):
                session.cancel()
            for t in list(self._threads):
                t.join(1.0)
        if self._ack_file is not None:
            with self._ack_lock:
                self._ack_file.close()
                self._ack_file = None


def run_services(settings: Settings, keys, stop: threading.Event, duration=None, out=None, on_ack=None):
    """Run the given services as threads of this process until stop (or duration); returns the runners."""
    runners = [ServiceRunner(settings, key, stop, out=out, on_ack=on_ack) for key in keys]
    for r in runners:
        r.start()
    stop.wait(duration)
    stop.set()
    for r in runners:
        r.join()
    for r in runners:
        r.report(final=True)
    return runners
