"""The tracer's floor: the least client CPU a traced statement can cost, next to an untraced one.

One process, one connection, a loop of transactions of STATEMENTS trivial statements (`SELECT 1`),
each transaction under a root span when traced, with ddtrace loaded the way the workload loads it
(ddtrace.auto, DBM propagation `full`, the same features off). Prints one JSON line: client
CPU-seconds per 1,000 transactions and per 1,000 statements. bench_workload.py runs it in the
workload's own Python, traced and untraced, beside the workload.
    python bench/minimal_loop.py traced|untraced SECONDS STATEMENTS   (PG* in the environment)
"""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workload"))

from credit_workload import settings, tracing  # noqa: E402


def main() -> None:
    mode, seconds, statements = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    env = dict(os.environ, DD_TRACE_ENABLED="true" if mode == "traced" else "false")
    lab = settings.parse({k: v for k, v in env.items() if not k.startswith("WORKLOAD_")})
    tracing.setup(lab, "credit-floor")   # exactly what a service process does
    import psycopg2  # noqa: E402  (after ddtrace.auto, as in the services)

    conn = psycopg2.connect(**lab.connect_kwargs("payments"))
    start_cpu = resource.getrusage(resource.RUSAGE_SELF)
    deadline, done = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        with tracing.root_span("payments", "floor", "steady"):
            with conn.cursor() as cur:
                for _ in range(statements):
                    cur.execute("SELECT 1")
                    cur.fetchone()
            conn.commit()
        done += 1
    end_cpu = resource.getrusage(resource.RUSAGE_SELF)
    tracing.flush()
    cpu = (end_cpu.ru_utime + end_cpu.ru_stime) - (start_cpu.ru_utime + start_cpu.ru_stime)
    print(json.dumps({"mode": mode, "transactions": done, "statements": statements,
                      "cpu_per_1000_tx": 1000 * cpu / done, "cpu_per_1000_statements": 1000 * cpu / (done * statements)}))


if __name__ == "__main__":
    main()
