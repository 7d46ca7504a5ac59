"""Native postgres_exporter and Prometheus processes for the integration tests.

Both run with exactly what the containers get: flags and environment from
components/render/exporter.py, config, rules and arguments from components/render/prometheus.py;
only the listen addresses and file paths differ (127.0.0.1, free ports, a temporary directory).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from components.render import exporter, prometheus
from tests.integration.tools import binary

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    """Poll `check()` until it returns a truthy value; bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached in {timeout}s (last error: {last_error})")


class _Process:
    """A child process with its log in a file, stopped with SIGTERM then SIGKILL."""

    name = "process"

    def __init__(self, base_dir: Path):
        self.base_dir = Path(base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.base_dir / f"{self.name}.log"
        self.proc = None

    def _spawn(self, argv, env):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.base_dir, start_new_session=True)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # Its own session: take any children (the workload's service processes) with it.
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.proc:
            self._log.close()
        self.proc = None

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")


class Exporter(_Process):
    name = "postgres_exporter"

    def __init__(self, base_dir, pg_host: str, pg_port: int, password: str):
        super().__init__(base_dir)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}/metrics"
        self._env = {**exporter.env(pg_host, pg_port), exporter.PASSWORD_ENV: password,
                     "PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    def start(self, timeout: float = 20.0):
        self._spawn([str(binary("prometheus-postgres-exporter")), *exporter.flags(self.address)], self._env)
        wait_until(lambda: self._check_alive() or b"pg_up" in http_get(self.url), timeout, "exporter ready")
        return self

    def metrics_text(self) -> str:
        return http_get(self.url, timeout=10).decode()


class Prometheus(_Process):
    name = "prometheus"

    def __init__(self, base_dir, exporter_target: str, scrape_interval: str):
        super().__init__(base_dir)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.rules_dir = self.base_dir / "rules"
        self.config_path = self.base_dir / "prometheus.yml"
        self.storage = self.base_dir / "data"
        self.exporter_target = exporter_target
        self.scrape_interval = scrape_interval

    def write_files(self):
        """The container's config and rule files, rendered by the same functions."""
        self.rules_dir.mkdir(exist_ok=True)
        for name, text in prometheus.rule_files().items():
            (self.rules_dir / name).write_text(text)
        self.config_path.write_text(prometheus.config(
            self.scrape_interval, self.exporter_target, rules_dir=str(self.rules_dir),
            prometheus_target=self.address))

    def start(self, timeout: float = 30.0):
        self.write_files()
        argv = [str(binary("prometheus")), *prometheus.args(
            config_path=str(self.config_path), storage_path=str(self.storage), listen_address=self.address)]
        self._spawn(argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        wait_until(lambda: self._check_alive() or http_get(f"{self.url}/-/ready"), timeout, "prometheus ready")
        return self

    def api(self, path: str, **params):
        query = urllib.parse.urlencode(params)
        body = json.loads(http_get(f"{self.url}/api/v1/{path}?{query}", timeout=30))
        if body.get("status") != "success":
            raise ValueError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float):
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=f"{step}")["result"]

    def alerts(self):
        return self.api("alerts")["alerts"]

    def targets_up(self) -> dict:
        return {t["labels"]["job"]: t["health"] for t in self.api("targets")["activeTargets"]}


class Workload(_Process):
    """`python -m credit_workload` (the workload helper's package), untraced, against the lab database."""

    name = "workload"

    def __init__(self, base_dir, pg, rate: float = 30, scenario: str = "steady", services: str = "",
                 tag: str = ""):
        if tag:
            self.name = f"workload-{tag}"
        super().__init__(base_dir)
        from components import topology
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join([str(REPO / "workload"), str(REPO)]),
            "PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGDATABASE": topology.DATABASE,
            "PGUSER": topology.WORKLOAD_ROLE, "PGPASSWORD": pg.passwords[topology.WORKLOAD_ROLE],
            "WORKLOAD_RATE": str(rate), "WORKLOAD_SCENARIO": scenario, "WORKLOAD_REPORT_INTERVAL": "5",
            "DD_TRACE_ENABLED": "false",
        }
        if services:
            self._env["WORKLOAD_SERVICES"] = services

    def start(self):
        self._spawn([sys.executable, "-m", "credit_workload"], self._env)
        time.sleep(0.5)
        self._check_alive()
        return self

    def stop(self, timeout: float = 20.0):
        super().stop(timeout)
