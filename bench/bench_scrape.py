"""Exporter scrape cost with the workload running: duration p50/p95 and series count.

    python bench/bench_scrape.py [--scrapes 60] [--rate 40] [--seed-customers 2000]

Starts a lab PostgreSQL (tests/integration/pg.py), postgres_exporter with the container's
flags, the workload, then scrapes /metrics the way Prometheus does and prints numbers.
Also reports Prometheus's own view (scrape_duration_seconds) over the same run.
"""
import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "workload")]

from tests.integration.obs_servers import Exporter, Prometheus, Workload  # noqa: E402
from tests.integration.pg import LabPostgres  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def scrape(url):
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read().decode()
    elapsed = time.perf_counter() - start
    samples = [sample for family in text_string_to_metric_families(body) for sample in family.samples]
    return elapsed, samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scrapes", type=int, default=60)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between scrapes")
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--seed-customers", type=int, default=2000)
    parser.add_argument("--warmup", type=float, default=20, help="seconds of load before measuring")
    args = parser.parse_args()

    pg = LabPostgres(seed_customers=args.seed_customers)
    pg.start()
    exp = Exporter(pg)
    load = Workload(pg, rate=args.rate)
    prom = None
    try:
        exp.start()
        load.start()
        # Prometheus scrapes the same exporter every 10s (the lab default) to compare its view.
        prom = Prometheus(pg, "10s").start()
        time.sleep(args.warmup)
        durations, counts, collector = [], [], {}
        for _ in range(args.scrapes):
            elapsed, samples = scrape(exp.url)
            durations.append(elapsed)
            counts.append(len(samples))
            for sample in samples:
                if sample.name == "pg_scrape_collector_duration_seconds":
                    collector.setdefault(sample.labels["collector"], []).append(sample.value)
            time.sleep(args.interval)
        load._check_alive()
        by_prefix = {}
        for sample in samples:
            family = sample.name
            # pg_stat_statements_calls_total -> pg_stat_statements, pg_settings_x -> pg_settings
            prefix = "_".join(family.split("_")[:3 if family.startswith("pg_stat") else 2])
            by_prefix[prefix] = by_prefix.get(prefix, 0) + 1
        prom_view = prom.query('scrape_duration_seconds{job="postgres"}')
        print(f"exporter scrape duration over {len(durations)} scrapes at workload rate {args.rate}/s:")
        print(f"  p50 {percentile(durations, 0.5) * 1000:.1f} ms  p95 {percentile(durations, 0.95) * 1000:.1f} ms"
              f"  max {max(durations) * 1000:.1f} ms  mean {statistics.mean(durations) * 1000:.1f} ms")
        print(f"  series per scrape: min {min(counts)} max {max(counts)} last {counts[-1]}")
        print("  series by family prefix (last scrape): " +
              ", ".join(f"{k} {v}" for k, v in sorted(by_prefix.items(), key=lambda kv: -kv[1])[:8]))
        slowest = sorted(((statistics.median(v), k) for k, v in collector.items()), reverse=True)[:5]
        print("  slowest collectors (median): " + ", ".join(f"{k} {v * 1000:.1f} ms" for v, k in slowest))
        if prom_view:
            print(f"  Prometheus scrape_duration_seconds (last): {float(prom_view[0]['value'][1]) * 1000:.1f} ms")
    finally:
        load.stop()
        if prom:
            prom.stop()
        exp.stop()
        pg.destroy()


if __name__ == "__main__":
    main()
