"""Per-service counters and latencies, reported as one readable line every interval."""
import random
import threading
import time
from collections import Counter

MAX_SAMPLES = 50_000   # latencies kept per interval; beyond it a uniform reservoir (bounded memory)


def percentile(sorted_values, q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(q / 100.0 * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Stats:
    """Thread-safe counters since the last report, plus totals since start."""

    def __init__(self, service: str):
        self.service = service
        self._lock = threading.Lock()
        self._latencies = []
        self._errors = Counter()
        self._since = time.monotonic()
        self._seen = 0
        self.totals = Counter()

    def ok(self, seconds: float, retries: int = 0, replayed: bool = False) -> None:
        with self._lock:
            self._seen += 1
            if len(self._latencies) < MAX_SAMPLES:
                self._latencies.append(seconds)
            else:   # reservoir sampling: every operation equally likely to be kept
                slot = random.randrange(self._seen)
                if slot < MAX_SAMPLES:
                    self._latencies[slot] = seconds
            self.totals["ops"] += 1
            self.totals["retries"] += retries
            self.totals["replayed"] += int(replayed)

    def error(self, kind: str, retries: int = 0) -> None:
        with self._lock:
            self._errors[kind] += 1
            self.totals["errors"] += 1
            self.totals["retries"] += retries

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.totals[what] += n

    def take(self) -> dict:
        """The interval since the last take(): rate, errors, percentiles (seconds); resets the interval."""
        with self._lock:
            now = time.monotonic()
            lat, errors, since, seen = sorted(self._latencies), self._errors, self._since, self._seen
            self._latencies, self._errors, self._since, self._seen = [], Counter(), now, 0
            totals = dict(self.totals)
        elapsed = max(now - since, 1e-9)
        return {"service": self.service, "elapsed": elapsed, "ops": seen, "rate": seen / elapsed,
                "errors": sum(errors.values()), "error_kinds": dict(errors),
                "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99),
                "totals": totals}


PACED_TOTALS = ("ops", "errors", "retries", "replayed", "reconnects")


def format_line(snap: dict, target, workers: str = "") -> str:
    """e.g. credit-payments ops/s=7.0/7.0 ok=70 errors=0 p50=2.1ms p95=4.0ms p99=9.5ms retries=0,
    then what a scenario's own loops did (scenario=review_hot_account:12,post_payment:36)."""
    target_txt = "max" if target is None else f"{target:.1f}"
    kinds = ",".join(f"{k}:{v}" for k, v in sorted(snap["error_kinds"].items()))
    t = snap["totals"]
    scenario = ",".join(f"{k}:{v}" for k, v in sorted(t.items()) if k not in PACED_TOTALS)
    return (f"{snap['service']:<22} ops/s={snap['rate']:.1f}/{target_txt} ok={snap['ops']} "
            f"errors={snap['errors']}{'(' + kinds + ')' if kinds else ''} "
            f"p50={snap['p50'] * 1000:.1f}ms p95={snap['p95'] * 1000:.1f}ms p99={snap['p99'] * 1000:.1f}ms "
            f"total_ops={t.get('ops', 0)} retries={t.get('retries', 0)} replayed={t.get('replayed', 0)} "
            f"reconnects={t.get('reconnects', 0)}" + (f" scenario={scenario}" if scenario else "")
            + (f" workers={workers}" if workers else ""))
