"""postgres_exporter, Prometheus and the workload as the lab's containers (tests/integration/containers.py).

Each is created exactly as the Pulumi program declares it (command, env, uploads, volumes, memory)
on the image the stack pins (the exporter and Prometheus run as their images' `nobody`), the
workload on the image workload/Dockerfile builds. They join the PostgreSQL container's network and find
each other by alias (`postgres`, `postgres-exporter`, `prometheus`), as in the lab; tests reach them
at their addresses on that network, on the ports they listen on inside their containers.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from components import topology
from components.render import prometheus as prometheus_render
from tests.integration import images, program
from tests.integration.containers import Container, Network, StopWaiting, Volume, wait_for
from tests.integration.workload_support import WorkloadRun, workload_env

def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def healthcheck_deadline_s(inputs) -> float:
    """How long Docker gives a container before calling it unhealthy: start period plus
    interval x retries of its healthcheck (Go durations such as "10s")."""
    check = inputs["healthcheck"]

    def seconds(value):
        return prometheus_render.duration_seconds(value or "0s") or 0.0
    return seconds(check.get("startPeriod")) + seconds(check.get("interval")) * int(check.get("retries") or 3)


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    return wait_for(check, timeout, what, interval)


class _LabContainer:
    alias = ""

    def __init__(self, network: Network, stack, image: str, **config):
        self.inputs = program.container_inputs(stack, self.alias)
        self.container = Container(network, program.container_config(stack, self.alias, image, **config))

    @property
    def ip(self) -> str:
        return self.container.ip

    def _alive(self):
        if not self.container.running:
            raise StopWaiting(f"{self.alias} exited ({self.container.exit_code}):\n{self.log_text()[-3000:]}")

    def healthcheck(self) -> bool:
        """The container's healthcheck, as the program declares it, run in the container."""
        return self.container.healthcheck(program.healthcheck_of(self.inputs))

    def log_text(self) -> str:
        return self.container.logs()

    def stop(self):
        self.container.stop()
        self.container.remove()


class Exporter(_LabContainer):
    alias = topology.EXPORTER_ALIAS

    def __init__(self, pg=None, network: Network | None = None):
        """The exporter of `pg`'s stack, on its network; without `pg`, on `network` with no database."""
        stack = pg.stack() if pg is not None else program.stack()
        super().__init__(pg.network if pg is not None else network, stack, images.exporter())

    @property
    def address(self) -> str:
        return f"{self.ip}:{topology.EXPORTER_PORT}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def start(self):
        self.container.start()
        wait_for(lambda: self._alive() or b"pg_up" in http_get(self.url), healthcheck_deadline_s(self.inputs),
                 "exporter serving /metrics")
        return self

    def metrics_text(self) -> str:
        return http_get(self.url, timeout=10).decode()


class Prometheus(_LabContainer):
    alias = topology.PROMETHEUS_ALIAS

    def __init__(self, pg, scrape_interval: str):
        """The Prometheus of `pg`'s stack with `scrapeInterval` set, on its network, its TSDB on a
        new volume."""
        self.volume = Volume("prometheus-data")
        stack = pg.stack(config={"scrapeInterval": scrape_interval})
        super().__init__(pg.network, stack, images.prometheus(), volumes={prometheus_render.STORAGE_PATH: self.volume})

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{topology.PROMETHEUS_PORT}"

    def stop(self):
        super().stop()
        self.volume.remove()

    def start(self):
        self.container.start()
        wait_for(lambda: self._alive() or http_get(f"{self.url}{prometheus_render.HEALTH_PATH}"),
                 healthcheck_deadline_s(self.inputs), "prometheus ready")
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


class Workload:
    """The workload container of `pg`'s stack (untraced), at `rate` and `scenario`."""

    def __init__(self, pg, rate: float = 30, scenario: str = "steady", services: str = ""):
        overrides = {"WORKLOAD_RATE": rate, "WORKLOAD_SCENARIO": scenario, "WORKLOAD_REPORT_INTERVAL": 5}
        if services:
            overrides["WORKLOAD_SERVICES"] = services
        self.run = WorkloadRun(pg, workload_env(**overrides))

    def start(self):
        self.run.start()
        return self

    def _check_alive(self):
        if not self.run.running():
            raise StopWaiting(f"workload exited ({self.run.container.exit_code}):\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.run.container.logs()

    def stop(self):
        if self.run.container.exit_code is None or self.run.running():
            self.run.stop()
        self.run.remove()
