"""One worker's database session: reconnects after any loss and retries what is safe to retry.

Why no pool: psycopg2's pools hand out dead connections unchecked (FACTS.md §3); a worker owning
one connection notices the loss on its own next statement and reconnects with backoff.

Retry rule: a failure before COMMIT leaves nothing applied (the server rolls the transaction
back when the connection dies), so the operation runs again. A failure *during* COMMIT is
ambiguous; every write in this workload records a client-made idempotency key in the same
transaction (INSERT ... ON CONFLICT DO NOTHING), so running it again either applies it once or
finds it applied. An operation is acknowledged (counted, tagged, reported) only after COMMIT
returned, so nothing acknowledged can be lost.
"""
import random
import threading
import time

import psycopg2
import psycopg2.errorcodes as codes

from . import backoff, settings

# Server-side errors after which the same transaction may simply run again.
RETRY_SQLSTATES = {codes.SERIALIZATION_FAILURE, codes.DEADLOCK_DETECTED}
# Server-side errors that end this operation (counted as an error) but not the worker.
GIVE_UP_SQLSTATES = {codes.LOCK_NOT_AVAILABLE: "lock_timeout", codes.QUERY_CANCELED: "canceled",
                     codes.IDLE_IN_TRANSACTION_SESSION_TIMEOUT: "idle_timeout"}
BACKOFF_MIN, BACKOFF_MAX = 0.1, 2.0
FAIL_FAST_PAUSE = 0.02  # seconds before each single attempt while the database is known unreachable
RETRY_WINDOW = settings.RETRY_WINDOW_S   # seconds an operation keeps retrying a lost database
# Session limits sent in the startup packet (no extra round trip): bound how long a worker can block.
SESSION_OPTIONS = "-c lock_timeout=5s -c statement_timeout=30s"


class Stopped(Exception):
    """The service is stopping; the operation was not acknowledged."""


class GaveUp(Exception):
    """The operation failed for good (after retries where they were safe); the worker goes on."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def _lost(conn, exc) -> bool:
    """True when the failure means the connection is gone (killed backend, restart, network)."""
    return (conn is None or conn.closed != 0 or isinstance(exc, psycopg2.InterfaceError)
            or (isinstance(exc, psycopg2.OperationalError) and exc.pgcode is None))


class Session:
    def __init__(self, connect_kwargs: dict, stop: threading.Event, stats=None,
                 options: str = SESSION_OPTIONS, retry_window: float = RETRY_WINDOW):
        self._kwargs = dict(connect_kwargs, options=options)
        self._stop = stop
        self._stats = stats
        self._retry_window = retry_window
        self.conn = None
        self.busy = False                    # inside a transaction (SIGTERM may cancel it when late)
        self._attempts = 0                   # failed connects since the last success
        self._ever_connected = False
        # An operation gave up on a lost database and none has reached it since: the next ones make
        # one attempt each and fail at once (a circuit breaker), so an outage longer than the retry
        # window shows in the service's error rate as it would in a real service, instead of as at
        # most one error per worker per window.
        self.unreachable = False

    def _connect(self, deadline: float):
        while True:
            if self._stop.is_set():
                raise Stopped()
            try:
                conn = psycopg2.connect(**self._kwargs)
                if self._ever_connected and self._stats is not None:
                    self._stats.count("reconnects")
                self._ever_connected = True
                self._attempts = 0
                self.unreachable = False
                return conn
            except psycopg2.OperationalError as exc:
                if time.monotonic() >= deadline:
                    self.unreachable = True
                    raise GaveUp("unavailable", str(exc).strip().splitlines()[0]) from None
                # Jittered exponential backoff so restarting servers are not hammered in lockstep.
                self._attempts += 1
                self._stop.wait(backoff.delay(self._attempts, BACKOFF_MIN, BACKOFF_MAX) * random.uniform(0.5, 1.0))

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg2.Error:
                pass

    def cancel(self) -> None:
        """Ask the server to cancel the running statement (late SIGTERM); harmless when idle."""
        conn = self.conn
        if conn is not None and self.busy:
            try:
                conn.cancel()
            except psycopg2.Error:
                pass

    def transaction(self, fn, *args, read_only: bool = False):
        """Run fn(cursor, *args) in one transaction and commit; returns (result, retries).
        read_only: run it in autocommit instead (no BEGIN, no COMMIT: one round trip less, and
        with ddtrace one span less); for reads that need no single snapshot."""
        if self.unreachable:
            # One attempt, after a short pause: an unpaced worker does not spin on a dead server,
            # and a paced one still fails at its rate (up to 1 / FAIL_FAST_PAUSE per worker).
            if self._stop.wait(FAIL_FAST_PAUSE):
                raise Stopped()
            deadline = time.monotonic()
        else:
            deadline = time.monotonic() + self._retry_window
        retries = 0
        while True:
            if self.conn is None or self.conn.closed:
                self.close()
                self.conn = self._connect(deadline)
            conn = self.conn
            try:
                self.busy = True
                # Set between transactions only (psycopg2 refuses it inside one); client-side, no round trip.
                if conn.autocommit != read_only:
                    conn.autocommit = read_only
                with conn.cursor() as cur:      # plain (client-side) cursor: DBM can explain it
                    result = fn(cur, *args)
                if not read_only:
                    conn.commit()
                return result, retries
            except psycopg2.Error as exc:
                if _lost(conn, exc):
                    self.close()
                    kind = "connection_lost"
                else:
                    try:
                        conn.rollback()
                    except psycopg2.Error:
                        self.close()
                    if exc.pgcode in RETRY_SQLSTATES:
                        kind = "conflict"
                    elif exc.pgcode in GIVE_UP_SQLSTATES:
                        raise GaveUp(GIVE_UP_SQLSTATES[exc.pgcode]) from None
                    else:
                        raise GaveUp(f"sql_{exc.pgcode}", str(exc).strip().splitlines()[0]) from None
                if self._stop.is_set():
                    raise Stopped() from None
                if time.monotonic() >= deadline:
                    self.unreachable = kind == "connection_lost"
                    raise GaveUp(kind) from None
                retries += 1
            except BaseException:
                # A bug or a signal inside fn: never leave the transaction open on a reused connection.
                self.close()
                raise
            finally:
                self.busy = False
