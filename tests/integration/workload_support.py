"""Helpers for the workload's integration tests: the real `python -m credit_workload` process,
a real ddapm-test-agent, report-line parsing and the double-entry invariant checks."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from credit_workload import settings

from components import topology

REPO = Path(__file__).resolve().parents[2]
REPORT = re.compile(r"^(?P<service>credit-\w+)\s+ops/s=(?P<rate>[\d.]+)/(?P<target>[\d.]+|max) ok=(?P<ok>\d+) "
                    r"errors=(?P<errors>\d+).*? workers=(?P<workers>\S+)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def workload_env(pg, **overrides) -> dict:
    """The container's environment for a LabPostgres (plus PATH/PYTHONPATH to run from the repo)."""
    # The same renderer the Pulumi component uses; only the address, the report interval and
    # DD_ENV differ here, plus what running from the repo needs.
    env = settings.render_env(host="127.0.0.1", port=pg.port, dbname=topology.DATABASE,
                              user=topology.WORKLOAD_ROLE, report_interval=2, dd_env="test")
    env.update({
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "workload"), str(REPO)]),
        "PGPASSWORD": pg.passwords[topology.WORKLOAD_ROLE],
    })
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class WorkloadRun:
    """`python -m credit_workload` as the container runs it, its stdout and stderr in files."""

    def __init__(self, base_dir: Path, env: dict, name: str = "workload"):
        self.dir = Path(base_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = self.dir / f"{name}.out", self.dir / f"{name}.err"
        self.env = dict(env)
        self.env.setdefault("WORKLOAD_STATUS_DIR", str(self.dir / f"{name}-status"))
        self.proc = None

    def start(self) -> WorkloadRun:
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "credit_workload"], env=self.env,
                                         stdout=out, stderr=err, cwd="/")
        return self

    def stop(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM, then wait; returns (exit status, seconds it took). Kills if it overstays."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return -9, time.monotonic() - started
        return self.proc.returncode, time.monotonic() - started

    def health(self) -> subprocess.CompletedProcess:
        """The container healthcheck command, with the container's environment."""
        return subprocess.run([sys.executable, "-m", "credit_workload.health"], env=self.env,
                              capture_output=True, text=True, timeout=30, cwd="/", check=False)

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def reports(self) -> list[dict]:
        rows = []
        for line in self.stdout().splitlines():
            m = REPORT.match(line.strip())
            if m:
                row = m.groupdict()
                row["rate"] = float(row["rate"])
                row["target"] = None if row["target"] == "max" else float(row["target"])
                row["errors"] = int(row["errors"])
                rows.append(row)
        return rows

    def wait_reports(self, per_service: int, services: int, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"workload exited early:\n{self.stderr()[-2000:]}"
            rows = self.reports()
            counts = {}
            for r in rows:
                counts[r["service"]] = counts.get(r["service"], 0) + 1
            if len(counts) >= services and min(counts.values()) >= per_service:
                return rows
            time.sleep(0.2)
        raise TimeoutError(f"no {per_service} reports per service in {timeout}s:\n{self.stdout()[-2000:]}"
                           f"\n{self.stderr()[-2000:]}")


class TestAgent:
    __test__ = False   # not a pytest test class
    """Datadog's ddapm-test-agent on a free port (real trace intake, /test/traces to read back)."""

    def __init__(self, base_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(base_dir) / "test-agent.log"
        self.proc = None

    def start(self) -> TestAgent:
        exe = shutil.which("ddapm-test-agent")
        assert exe, "ddapm-test-agent not installed (pip install ddapm-test-agent==1.69.1)"
        with open(self.log_path, "w") as log:
            # Its OTLP listeners default to fixed ports (4317/4318): free ones, so runs can coexist.
            self.proc = subprocess.Popen([exe, "--port", str(self.port), "--host", "127.0.0.1",
                                          "--otlp-http-port", str(free_port()), "--otlp-grpc-port",
                                          str(free_port()), "--snapshot-dir", str(self.log_path.parent)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.traces()
                return self
            except OSError:
                assert self.proc.poll() is None, self.log_path.read_text()[-2000:]
                time.sleep(0.2)
        raise TimeoutError("ddapm-test-agent did not answer in 30s")

    def traces(self) -> list[list[dict]]:
        with urllib.request.urlopen(f"{self.url}/test/traces", timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# Each query returns rows only when an invariant is broken.
INVARIANTS = {
    "journal entry lines do not sum to zero":
        "SELECT journal_entry_id, sum(amount) FROM ledger_lines GROUP BY 1 HAVING sum(amount) <> 0 LIMIT 5",
    "account balance differs from its receivable lines":
        "SELECT a.id, a.balance, coalesce(r.total, 0) FROM credit_accounts a LEFT JOIN "
        "(SELECT credit_account_id, sum(amount) AS total FROM ledger_lines WHERE gl_code = 'loans_receivable' "
        "GROUP BY 1) r ON r.credit_account_id = a.id WHERE a.balance <> coalesce(r.total, 0) LIMIT 5",
    "whole ledger does not sum to zero":
        "SELECT sum(amount) FROM ledger_lines HAVING sum(amount) <> 0",
    "settled payment without a matching entry":
        "SELECT p.id FROM payments p LEFT JOIN ledger_lines l ON l.journal_entry_id = p.journal_entry_id "
        "AND l.gl_code = 'cash' WHERE p.status = 'settled' AND (l.amount IS NULL OR l.amount <> p.amount) LIMIT 5",
    "journal entry without lines":
        "SELECT j.id FROM journal_entries j WHERE NOT EXISTS "
        "(SELECT 1 FROM ledger_lines l WHERE l.journal_entry_id = j.id) LIMIT 5",
}


def invariant_violations(conn) -> list[str]:
    """All invariants, read in ONE snapshot (repeatable read), so a check sees a single moment."""
    problems = []
    conn.rollback()      # set_session needs no open transaction
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    with conn.cursor() as cur:
        for what, sql in INVARIANTS.items():
            cur.execute(sql)
            rows = cur.fetchall()
            if rows:
                problems.append(f"{what}: {rows}")
    conn.rollback()
    return problems
