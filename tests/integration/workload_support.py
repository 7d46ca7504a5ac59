"""Helpers for the workload's integration tests: the workload container, the Agent's image (its
trace intake: ddapm-test-agent in the stand-in), report-line parsing and the double-entry
invariant checks."""
from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request

from credit_workload import settings

from components import topology
from tests.integration import images, program
from tests.integration.containers import Container, ContainerConfig, Network, StopWaiting, wait_for

# ddtrace's default agent port: the workload sets only DD_AGENT_HOST (the Agent's alias).
APM_PORT = 8126
# The test agent imports ddtrace and aiohttp on start: seconds on a loaded machine.
AGENT_START_TIMEOUT_S = 60
REPORT = re.compile(r"^(?P<service>credit-\w+)\s+ops/s=(?P<rate>[\d.]+)/(?P<target>[\d.]+|max) ok=(?P<ok>\d+) "
                    r"errors=(?P<errors>\d+).*? workers=(?P<workers>\S+)$")


# What a test may set on top of the program's env: the workload's own documented settings.
WORKLOAD_SETTINGS = frozenset(settings.ALL_ENV_VARS)
# A placeholder API key: the program then declares the Agent and points the workload's traces at it.
TEST_DD_API_KEY = "test-api-key-not-a-real-one"


def workload_env(pg=None, **overrides) -> dict:
    """Overrides of the workload container's env, as strings (report every 2 s unless told)."""
    env = {settings.ENV_REPORT_INTERVAL: "2"}
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def run_image_once(env: dict, timeout: float = 60, argv: list[str] | None = None) -> subprocess.CompletedProcess:
    """The workload image's CMD (or `argv`, as `docker run IMAGE argv...`) with exactly `env`
    (beside the image's own ENV), on a network of its own, until it exits: for settings the
    container must refuse at start."""
    network = Network()
    container = Container(network, ContainerConfig(alias=topology.WORKLOAD_ALIAS, image=images.workload(), env=env,
                                                   command=argv))
    try:
        container.start()
        code = container.wait(timeout)
        return subprocess.CompletedProcess(argv or ["<the image's CMD>"], code, container.logs("stdout"),
                                           container.logs("stderr"))
    finally:
        container.remove()
        network.remove()


class WorkloadRun:
    """The workload container as the program declares it (workload/Dockerfile's image: USER 10001,
    /app, its CMD), on `pg`'s network, with `overrides` of its env. With `traced`, the stack has a
    Datadog API key, so the workload sends traces to the Agent's alias; a test agent answers there."""

    def __init__(self, pg, overrides: dict | None = None, traced: bool = False, network=None, stack=None,
                 bare_env: dict | None = None):
        self.network = network or pg.network
        if bare_env is not None:   # `docker run` of the image with only this env: its own defaults
            config = ContainerConfig(alias=topology.WORKLOAD_ALIAS, image=images.workload(), env=bare_env)
        else:
            if stack is None:
                stack = pg.stack(secret={"ddApiKey": TEST_DD_API_KEY} if traced else None)
            config = program.container_config(stack, topology.WORKLOAD_ALIAS, images.workload(),
                                              env_overrides=overrides or {}, may_add=WORKLOAD_SETTINGS)
        self.image = config.image
        self.container = Container(self.network, config)
        self.env = dict(config.env)

    def start(self) -> WorkloadRun:
        self.container.start()
        return self

    @property
    def pid(self) -> int:
        return self.container.pid

    def running(self) -> bool:
        return self.container.running

    def stop(self, timeout: float | None = None) -> tuple[int, float]:
        """docker stop (SIGTERM, then SIGKILL after the container's stop timeout); returns (exit
        status, seconds it took)."""
        if not self.container.running:
            return self.container.exit_code, 0.0
        started = time.monotonic()
        code = self.container.stop(timeout)
        return code, time.monotonic() - started

    def remove(self) -> None:
        self.container.remove()

    def health(self) -> subprocess.CompletedProcess:
        """The image's HEALTHCHECK command, run in the container (docker exec)."""
        kind, *argv = images.healthcheck(self.image)
        assert kind == "CMD", argv
        return self.container.exec(argv, timeout=30)

    def read_text(self, container_path: str) -> str:
        return self.container.read_text(container_path)

    def stdout(self) -> str:
        return self.container.logs("stdout")

    def stderr(self) -> str:
        return self.container.logs("stderr")

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
        def enough():
            if not self.container.running:
                raise StopWaiting(f"workload exited early:\n{self.stderr()[-2000:]}")
            rows = self.reports()
            counts = {}
            for r in rows:
                counts[r["service"]] = counts.get(r["service"], 0) + 1
            return rows if len(counts) >= services and min(counts.values()) >= per_service else None
        return wait_for(enough, timeout, lambda: f"{per_service} reports of {services} services:\n"
                                                 f"{self.stdout()[-2000:]}\n{self.stderr()[-2000:]}")


class TestAgent:
    __test__ = False   # not a pytest test class
    """The Agent's image as the Agent's trace intake, on `network` under the Agent's alias, with a
    placeholder key and DD_APM_NON_LOCAL_TRAFFIC=true (the Agent's Docker docs, for traces from
    other containers). The stand-in image answers with ddapm-test-agent, which lists what it
    received at /test/traces."""

    def __init__(self, network):
        self.network = network
        config = ContainerConfig(alias=topology.AGENT_ALIAS, image=images.datadog_agent(),
                                 env={"DD_API_KEY": TEST_DD_API_KEY, "DD_APM_NON_LOCAL_TRAFFIC": "true"})
        self.container = Container(network, config)

    @property
    def url(self) -> str:
        return f"http://{self.container.ip}:{APM_PORT}"

    def start(self) -> TestAgent:
        self.container.start()

        def answering():
            if not self.container.running:
                raise StopWaiting(self.container.logs()[-2000:])
            return self.traces() is not None
        wait_for(answering, AGENT_START_TIMEOUT_S, "the Agent's trace intake answering")
        return self

    def traces(self) -> list[list[dict]]:
        with urllib.request.urlopen(f"{self.url}/test/traces", timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.container.remove()


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
