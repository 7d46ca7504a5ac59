"""Where a workload operation's client CPU goes: the driver, the tracer, our code (issue 11).

Runs each service the way the image runs it (`python -m credit_workload.service KEY` in the
workload's own virtualenv, WORKLOAD_RATE=max, traced to a real ddapm-test-agent, then untraced)
against a LabPostgres, one service at a time, and samples it with py-spy:
  --gil     only the thread holding the GIL is sampled, so waiting on the server is not counted
            and the samples are the process's Python-side CPU;
  --native  native frames too, so time inside psycopg2/libpq is the driver's, not its caller's.
Each sample belongs to the innermost frame that names an owner: psycopg2/libpq (driver), ddtrace
or wrapt (tracer), credit_workload or the minimal loop (ours), the interpreter's collector (GC);
anything else (interpreter, stdlib called from the top) is "other". bench/minimal_loop.py, the
tracer's floor, is profiled the same way.

The processes run in the host's PID namespace, not in the engine model's container: there py-spy
cannot follow the namespace (measured with py-spy 0.4: --native stops with UNW_EBADREG, and its
idle detection counts sleeping threads as busy).
    python bench/profile_workload.py [--seconds 10] [--customers 2000] [--services payments,...]
Needs py-spy (bench/requirements.txt) and root (the LabPostgres).
"""
import argparse
import collections
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "workload"), str(ROOT / "bench")]

from bench_workload import THREADS, statement_calls, tree_cpu_s
from credit_workload import settings

from components import topology
from tests.integration.pg import LabPostgres
from tests.integration.tools import workload_venv
from tests.integration.workload_support import TestAgent

OWNERS = (("GC", ("gc_collect",)), ("driver", ("psycopg2", "libpq")), ("tracer", ("ddtrace", "wrapt")),
          ("ours", ("credit_workload", "minimal_loop")))
REPORT_INTERVAL = 2


def owner(frames: list[str]) -> tuple[str, str]:
    """(owner, the owning frame) of one sample's stack, innermost first."""
    for frame in reversed(frames):
        for name, marks in OWNERS:
            if any(mark in frame for mark in marks):
                return name, frame
    return "other", frames[-1] if frames else "?"


def breakdown(raw: Path) -> tuple[int, collections.Counter, collections.Counter]:
    """Samples, samples per owner, and the tracer's samples per owning function, from py-spy's raw output."""
    total, owners, tracer = 0, collections.Counter(), collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        total += n
        name, frame = owner(frames)
        owners[name] += n
        if name == "tracer":
            tracer[frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1]] += n
    return total, owners, tracer


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen([shutil.which("py-spy") or "py-spy", "record", "--pid", str(pid), "--gil", "--native",
                             "--rate", "200", "--duration", str(int(seconds)), "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _reports(proc, pg, into: queue.Queue) -> None:
    """Each report line of `proc` as it arrives, with the process's CPU and the role's statement
    count read at that moment, so a window between two reports is measured at its edges."""
    for line in proc.stdout:
        if " ok=" in line:
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            into.put((time.monotonic(), tree_cpu_s(proc.pid), statement_calls(pg), int(fields["ok"])))


def _base_env(pg, agent, traced: bool) -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGHOST": pg.host, "PGPORT": str(pg.port),
            "PGPASSWORD": pg.passwords[topology.WORKLOAD_ROLE], "DD_TRACE_AGENT_URL": agent.url,
            "DD_TRACE_ENABLED": "true" if traced else "false"}


def profile_service(pg, agent, tmp: Path, key: str, traced: bool, seconds: float) -> dict:
    """One service process at full speed: its CPU and statements per operation, and its profile."""
    env = _base_env(pg, agent, traced)
    env.update({settings.ENV_RATE: "max", settings.ENV_THREADS: str(THREADS),
                settings.ENV_REPORT_INTERVAL: str(REPORT_INTERVAL), settings.ENV_STATUS_DIR: str(tmp / "status"),
                "PYTHONPATH": str(ROOT / "workload")})
    proc = subprocess.Popen([str(workload_venv() / "bin" / "python"), "-m", "credit_workload.service", key], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    reports: queue.Queue = queue.Queue()
    threading.Thread(target=_reports, args=(proc, pg, reports), daemon=True).start()
    wait = REPORT_INTERVAL * 3 + 30              # start-up (imports, ddtrace, connecting), then a report
    try:
        reports.get(timeout=wait)                # warm-up: connected, prepared, working
        t0, cpu0, calls0, _ = reports.get(timeout=wait)
        raw = tmp / f"{key}-{'traced' if traced else 'untraced'}.txt"
        spy = py_spy(proc.pid, seconds, raw)
        _, spy_err = spy.communicate(timeout=seconds + 60)
        assert spy.returncode == 0, spy_err[-2000:]
        ops, t1 = 0, t0
        while t1 - t0 < seconds:                 # the reports of the intervals the profile covered
            t1, cpu1, calls1, ok = reports.get(timeout=wait)
            ops += ok
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    total, owners, tracer = breakdown(raw)
    return {"name": f"{key} {'traced' if traced else 'untraced'}", "rate": ops / (t1 - t0),
            "cpu_ms_per_op": 1000 * (cpu1 - cpu0) / max(ops, 1), "statements": (calls1 - calls0) / max(ops, 1),
            "samples": total, "owners": owners, "tracer": tracer}


def profile_floor(pg, agent, tmp: Path, seconds: float, statements: int) -> dict:
    """bench/minimal_loop.py traced, profiled after its start-up."""
    env = _base_env(pg, agent, True)
    warm = 8.0                                   # seconds: imports and ddtrace's start-up are not per-transaction
    proc = subprocess.Popen([str(workload_venv() / "bin" / "python"), str(ROOT / "bench" / "minimal_loop.py"),
                             "traced", str(warm + seconds), str(statements)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(warm)
    raw = tmp / "floor.txt"
    spy = py_spy(proc.pid, seconds, raw)
    _, spy_err = spy.communicate(timeout=seconds + 60)
    out, _ = proc.communicate(timeout=warm + seconds + 60)
    assert spy.returncode == 0 and proc.returncode == 0, spy_err[-2000:]
    result = json.loads(out.strip().splitlines()[-1])
    total, owners, tracer = breakdown(raw)
    return {"name": f"floor: {statements} x SELECT 1", "rate": None,
            "cpu_ms_per_op": result["cpu_per_1000_tx"], "statements": statements,
            "samples": total, "owners": owners, "tracer": tracer}


def print_table(rows: list[dict]) -> None:
    names = [name for name, _ in OWNERS] + ["other"]
    print(f"{'process':34} {'ops/s':>6} {'CPU ms/op':>9} {'stmts/op':>8}  " + " ".join(f"{n:>7}" for n in names))
    for r in rows:
        shares = " ".join(f"{100 * r['owners'][n] / max(r['samples'], 1):6.1f}%" for n in names)
        rate = f"{r['rate']:6.0f}" if r["rate"] is not None else f"{'':>6}"
        print(f"{r['name']:34} {rate} {r['cpu_ms_per_op']:9.2f} {r['statements']:8.1f}  {shares}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--services", default=",".join(settings.SERVICES))
    parser.add_argument("--keep", type=Path, help="copy py-spy's raw profiles here (flamegraph.pl reads them)")
    parser.add_argument("--untraced", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        sys.exit("profile_workload: py-spy not found: pip install -r bench/requirements.txt")
    keys = [k.strip() for k in args.services.split(",") if k.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp_name:
        tmp = Path(tmp_name)
        pg = LabPostgres(seed_customers=args.customers)
        agent = TestAgent(pg.network)
        try:
            pg.start()
            agent.start()
            modes = (True, False) if args.untraced else (True,)
            rows = [profile_service(pg, agent, tmp, key, traced, args.seconds) for traced in modes for key in keys]
            traced = [r for r in rows if r["name"].endswith(" traced")]
            per_op = sum(r["statements"] for r in traced) / len(traced)
            rows.append(profile_floor(pg, agent, tmp, args.seconds, max(1, round(per_op))))
        finally:
            agent.stop()
            pg.destroy()
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for raw in tmp.glob("*.txt"):
                    shutil.copy(raw, args.keep / raw.name)
    print(f"{args.customers} customers, {THREADS} threads per service, one service at a time, "
          f"{args.seconds:.0f} s each, py-spy --gil --native; shares of the GIL-holding CPU samples\n")
    print_table(rows)
    tracer = collections.Counter()
    for r in traced:
        tracer.update(r["tracer"])
    samples = sum(r["samples"] for r in traced)
    print("\nthe tracer's own functions, all traced services (share of their samples):")
    for frame, n in tracer.most_common(12):
        print(f"   {100 * n / samples:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
