"""Open-loop pacing: operations start on a fixed schedule shared by a service's worker threads.

The schedule is absolute (start + n / rate), so sleeping jitter does not accumulate and the
achieved rate stays on target while the workers keep up. When they fall behind (a database
restart, a lock pile-up) the backlog is dropped instead of replayed as a burst.
"""
import threading
import time

MAX_LAG = 1.0   # seconds of backlog the schedule keeps before it forgets missed slots


class Pacer:
    def __init__(self, rate: float | None, clock=time.monotonic):
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._next = clock()

    def wait(self, stop: threading.Event) -> bool:
        """Block until this caller's slot; False when stop was set meanwhile."""
        if self.rate is None:
            return not stop.is_set()
        with self._lock:
            now = self._clock()
            if now - self._next > MAX_LAG:
                self._next += int((now - self._next) * self.rate) / self.rate
            slot = self._next
            self._next += 1.0 / self.rate
        delay = slot - self._clock()
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()
