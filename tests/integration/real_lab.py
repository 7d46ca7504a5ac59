"""The whole lab through the real Pulumi CLI on the real Docker Engine, on a stack of its own.

`up` is the Automation API's: a local workspace on this repository (its Pulumi.yaml, so the CLI
applies the declared defaults and config rules), a file backend and PULUMI_HOME in a temporary
folder, the passphrase secrets provider, and the CLI built by .ci/install-tools. Two parts stand in
for what cannot be built here (README, "Tests"): the program runs inline (the Python language
host's module is not served, so the Automation API's own in-process language server runs
__main__.py), and the docker and random providers are tests/engine/provider_plugin.py, installed
into that PULUMI_HOME with `pulumi plugin install --file` under the versions the SDKs ask for.

The test stack has its own name (so its own container, volume and network names) and host ports
of its own, so it never touches a user's `dev` stack; a run first removes whatever a killed run of
the same stack left on the engine.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import secrets
import shutil
import socket
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import docker
import psycopg2
from pulumi import automation as auto

from tests.unit import harness
from components.render import grafana as grafana_render
from tests.engine import provider_plugin
from tests.integration import tools
from tests.integration.tools import pulumi_cli

REPO = Path(__file__).resolve().parents[2]
PROJECT = harness.PROJECT
# The test stack: its own name and host ports (none of them a default of Pulumi.yaml).
STACK = "itest"
PORTS = {"postgresPort": 15432, "exporterPort": 19187, "prometheusPort": 19091, "grafanaPort": 13001}
PREFIX = f"{PROJECT}-{STACK}"
STACK_FILE = REPO / f"Pulumi.{STACK}.yaml"
NOTHING = {"containers": [], "volumes": [], "networks": []}


def engine() -> docker.DockerClient:
    """The Docker Engine the tests run on (DOCKER_HOST or the local socket)."""
    client = docker.from_env(timeout=300)
    client.ping()
    return client


def _is_ours(name: str, prefix: str = PREFIX) -> bool:
    return name.startswith(f"{prefix}-")


def leftovers(client: docker.DockerClient, prefix: str = PREFIX) -> dict[str, list[str]]:
    """What of a stack (the test stack unless `prefix` names another) is on the engine: containers,
    volumes and networks by name."""
    return {
        "containers": sorted(c.name for c in client.containers.list(all=True) if _is_ours(c.name, prefix)),
        "volumes": sorted(v.name for v in client.volumes.list() if _is_ours(v.name, prefix)),
        "networks": sorted(n.name for n in client.networks.list() if _is_ours(n.name, prefix)),
    }


def remove_leftovers(client: docker.DockerClient) -> None:
    """Remove what an earlier, killed run of the test stack left (its containers come back with
    their restart policy whenever dockerd starts), and its stack file."""
    for container in client.containers.list(all=True):
        if _is_ours(container.name):
            container.remove(force=True, v=True)
    for volume in client.volumes.list():
        if _is_ours(volume.name):
            volume.remove(force=True)
    for network in client.networks.list():
        if _is_ours(network.name):
            network.remove()
    STACK_FILE.unlink(missing_ok=True)
    CODE_CHANGE.unlink(missing_ok=True)


def ports_in_use(bind_address: str = "127.0.0.1") -> list[int]:
    busy = []
    for port in PORTS.values():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((bind_address, port))
            except OSError:
                busy.append(port)
    return busy


def _program() -> None:
    """The inline program: the repository's own __main__.py, as the language host would run it."""
    runpy.run_path(str(REPO / "__main__.py"), run_name="__main__")


@dataclass
class Lab:
    stack: auto.Stack
    outputs: dict[str, auto.OutputValue]
    home: Path

    def output(self, name: str):
        return self.outputs[name].value

    def up(self, log=None) -> "Lab":
        """`pulumi up` of this stack; raises the CLI's error (with the provider's) on failure."""
        self.outputs = self.stack.up(on_output=log or (lambda line: None), color="never").outputs
        return self

    def resources(self, type_token: str) -> list[dict]:
        """The stack's resources of one type, from the state the CLI wrote."""
        deployment = self.stack.export_stack().deployment
        return [r for r in deployment.get("resources", []) if r["type"] == type_token]

    def containers(self) -> dict[str, docker.models.containers.Container]:
        """The stack's containers on the engine, by name."""
        client = engine()
        return {c.name: c for c in client.containers.list(all=True) if _is_ours(c.name)}


# A folder holding real provider binaries (pulumi-resource-docker, pulumi-resource-random) where a
# contributor has them, to run these tests against the real providers instead of the stand-in.
REAL_PROVIDERS_ENV = "CREDIT_LAB_PROVIDER_DIR"


def provider_binary(package: str, home: Path) -> Path:
    """The plugin `pulumi-resource-<package>` the test stack runs: the real kubernetes provider
    (.ci/build-cluster-tools builds it); for docker and random the real one from
    $CREDIT_LAB_PROVIDER_DIR where present, else a wrapper that starts the stand-in."""
    if package == "kubernetes":
        return tools.kubernetes_provider()
    real = Path(os.environ.get(REAL_PROVIDERS_ENV, "/nonexistent")) / f"pulumi-resource-{package}"
    if real.is_file():
        return real
    wrapper = home / f"pulumi-resource-{package}"
    wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m tests.engine.provider_plugin "
                       f"{package} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def workspace(home: Path, packages: tuple[str, ...] = ("docker", "random")) -> auto.LocalWorkspaceOptions:
    """A local workspace on this repository, with its own PULUMI_HOME, backend and passphrase,
    and the providers of `packages` installed in that home."""
    cli = pulumi_cli()
    env = {
        "PULUMI_HOME": str(home),
        "PULUMI_BACKEND_URL": f"file://{home / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_hex(16),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }
    (home / "state").mkdir(parents=True)
    command = auto.PulumiCommand(root=str(cli.parent.parent))
    for package in packages:
        command.run(["plugin", "install", "resource", package, provider_plugin.plugin_version(package),
                     "--file", str(provider_binary(package, home))], str(REPO), env)
    return auto.LocalWorkspaceOptions(work_dir=str(REPO), pulumi_home=str(home), env_vars=env,
                                      pulumi_command=command)


def _stack(name: str, config: dict[str, str] | None, secret: dict[str, str] | None) -> tuple[auto.Stack, Path]:
    home = Path(tempfile.mkdtemp(prefix="credit-lab-pulumi-"))
    stack = auto.create_or_select_stack(name, project_name=PROJECT, program=_program, opts=workspace(home))
    values = {key: auto.ConfigValue(str(value)) for key, value in {**PORTS, **(config or {})}.items()}
    values.update({key: auto.ConfigValue(value, secret=True) for key, value in (secret or {}).items()})
    stack.set_all_config(values)
    return stack, home


def preview_error(config: dict[str, str]) -> tuple[str, dict[str, list[str]]]:
    """`pulumi preview` of a throwaway stack with `config`: (the CLI's output, what of that stack is
    on the engine afterwards: a preview writes no state, so the engine is where anything made
    would show). Raises when the preview succeeds."""
    name = f"{STACK}-bad"
    stack, home = _stack(name, config, None)
    try:
        stack.preview(color="never")
    except auto.CommandError as error:
        return str(error), leftovers(engine(), f"{PROJECT}-{name}")
    else:
        raise AssertionError(f"pulumi preview accepted {config}")
    finally:
        stack.workspace.remove_stack(name)
        (REPO / f"Pulumi.{name}.yaml").unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)


def prepare(config: dict[str, str] | None = None, secret: dict[str, str] | None = None,
            allow_busy: tuple[int, ...] = ()) -> Lab:
    """The test stack with its config, in a new home and backend, nothing deployed yet. A test
    port taken by anything but `allow_busy` stops it before it starts."""
    busy = [port for port in ports_in_use() if port not in allow_busy]
    if busy:
        raise RuntimeError(f"host ports {busy} of the test stack are taken by another process or stack")
    stack, home = _stack(STACK, config, secret)
    return Lab(stack, {}, home)


def up(config: dict[str, str] | None = None, secret: dict[str, str] | None = None, log=None) -> Lab:
    """`pulumi up` of a new test stack; raises the CLI's error (with the provider's) on failure."""
    return prepare(config, secret).up(log)


@contextlib.contextmanager
def running(config: dict[str, str] | None = None, secret: dict[str, str] | None = None):
    """The test stack up for a block (what a killed run left removed first), destroyed after it
    unless the block destroyed it already."""
    client = engine()
    remove_leftovers(client)
    lab = up(config, secret)
    try:
        yield lab
    finally:
        if leftovers(client) != NOTHING:
            destroy(lab)


def destroy(lab: Lab, log=None) -> None:
    """`pulumi destroy`, then the stack and its temporary home removed."""
    lab.stack.destroy(on_output=log or (lambda line: None), color="never")
    lab.stack.workspace.remove_stack(STACK)
    STACK_FILE.unlink(missing_ok=True)
    shutil.rmtree(lab.home, ignore_errors=True)


def database_state(dsn: str, seed: int) -> tuple[int, int, set]:
    """(the cluster's system identifier, which initdb makes anew; seeded customers; the customers
    the workload added since, as (id, email) pairs)."""
    with psycopg2.connect(dsn, connect_timeout=10) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT system_identifier FROM pg_control_system()")
        (system_identifier,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM customers WHERE id <= %s", (seed,))
        (seeded,) = cursor.fetchone()
        cursor.execute("SELECT id, email FROM customers WHERE id > %s", (seed,))
        return system_identifier, seeded, set(cursor.fetchall())


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.read()


def check_the_urls_answer(outputs: dict) -> None:
    """What a user opens, from the host, whatever the platform: the exporter reaches PostgreSQL,
    Prometheus scrapes the exporter, Grafana's page is its app (anonymous viewing, not the login
    redirect) and its datasource reaches Prometheus by its in-network name."""
    prometheus, grafana = outputs["prometheusUrl"].value, outputs["grafanaUrl"].value
    assert http_get(f"{prometheus}/-/healthy")[0] == 200
    status, metrics = http_get(outputs["exporterUrl"].value)
    assert status == 200 and b"\npg_up 1\n" in metrics, "the exporter does not reach PostgreSQL"

    def exporter_target_up():
        targets = json.loads(http_get(f"{prometheus}/api/v1/targets")[1])["data"]["activeTargets"]
        return [t for t in targets if t["labels"]["job"] != "prometheus" and t["health"] == "up"]
    wait_for("Prometheus scrapes the exporter", exporter_target_up,
             deadline_s=3 * 10 + 10)   # three scrape intervals of the default 10s, and a margin
    with urllib.request.urlopen(grafana, timeout=10) as page:
        assert page.status == 200 and page.url.rstrip("/") == grafana.rstrip("/"), (page.status, page.url)
        assert page.headers.get_content_type() == "text/html"
    status, body = http_get(f"{grafana}/api/health")
    assert status == 200 and json.loads(body)["database"] == "ok"
    query = f"{grafana}/api/datasources/proxy/uid/{grafana_render.DATASOURCE_UID}/api/v1/query?query=pg_up"
    result = wait_for("pg_up through Grafana's datasource",
                      lambda: json.loads(http_get(query)[1])["data"]["result"], deadline_s=40)
    assert [sample["value"][1] for sample in result] == ["1"]


# A statement carries its traceparent in pg_stat_activity only while it runs or its transaction is
# open: a session between operations shows its last COMMIT, which psycopg2 sends outside the cursor
# ddtrace comments. At the default 20 operations per second a tight poll sees one at once (the whole
# check took 0.96 s on the cluster); 10 s is 200 operations.
TRACEPARENT = re.compile(r"traceparent='00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}'")
IN_FLIGHT_DEADLINE_S = 10
# ddtrace flushes every second; a trace reaches the intake within a few flushes.
TRACE_DEADLINE_S = 30


def traced_statement(dsn: str, role: str) -> str:
    """A statement of `role`'s sessions, as PostgreSQL runs it, that carries a traceparent."""
    connection = psycopg2.connect(dsn, connect_timeout=10)
    connection.autocommit = True   # each poll its own snapshot of the activity (a transaction keeps one)
    try:
        with connection.cursor() as cursor:
            def carried():
                cursor.execute("SELECT query FROM pg_stat_activity WHERE usename = %s AND query LIKE %s",
                               (role, "%traceparent=%"))
                return [row[0] for row in cursor.fetchall()]
            return wait_for(f"a statement of {role} carrying a traceparent", carried,
                            IN_FLIGHT_DEADLINE_S, poll_s=0.01)[0]
    finally:
        connection.close()


def check_a_traced_statement_reached_the_intake(dsn: str, role: str, intake) -> None:
    """A statement PostgreSQL runs carries a traceparent whose trace the Agent's intake received;
    intake(query) is the intake's /test/traces answer to that query string."""
    trace_id, _ = TRACEPARENT.search(traced_statement(dsn, role)).groups()
    # The span's trace_id is the low 64 bits of the W3C trace id (the high ones travel in _dd.p.tid).
    low = int(trace_id[16:], 16)
    trace = wait_for(f"trace {trace_id} at the Agent", lambda: next(iter(intake(f"?trace_ids={low}")), None),
                     TRACE_DEADLINE_S)
    assert any(span["meta"].get("_dd.p.tid") == trace_id[:16] for span in trace), trace[0]


# ---- what a preview plans, and a change to the workload's code ----------------------------------
# The engine's steps of one replacement (replace, then create-replacement and delete-replaced, in the
# order delete_before_replace gives): one "replace" to the tests.
REPLACEMENT_STEPS = {"replace", "create-replacement", "delete-replaced"}


def planned_steps(stack: auto.Stack, **preview_args) -> dict[str, str]:
    """`pulumi preview`: the operation planned for each resource (URN -> same, create, update,
    replace, delete ...), from the engine's own events."""
    steps: dict[str, set[str]] = {}

    def on_event(event) -> None:
        if event.resource_pre_event is not None:
            metadata = event.resource_pre_event.metadata
            steps.setdefault(metadata.urn, set()).add(str(metadata.op.value))
    stack.preview(color="never", on_event=on_event, **preview_args)
    return {urn: "replace" if ops & REPLACEMENT_STEPS else "/".join(sorted(ops)) for urn, ops in steps.items()}


# A new one-line module in the workload's package: a change under workload/ like any code change, and
# one a killed run cannot leave behind in a tracked file (it is removed before and after, and ignored).
CODE_CHANGE = REPO / "workload" / "credit_workload" / "_change_probe.py"


@contextlib.contextmanager
def workload_code_changed():
    CODE_CHANGE.unlink(missing_ok=True)
    CODE_CHANGE.write_text(f"CHANGED = {secrets.token_hex(4)!r}\n")
    try:
        yield CODE_CHANGE
    finally:
        CODE_CHANGE.unlink(missing_ok=True)


# ---- waiting on the engine, with deadlines from what is waited for ---------------------------------
NS = 1e-9


def health_deadline_s(health: dict) -> float:
    """How long Docker may take to call a container healthy: its start period, then `retries`
    failing probes of `interval` + `timeout` each, plus the first successful one."""
    return (health.get("StartPeriod", 0) + (health.get("Retries", 3) + 1)
            * (health.get("Interval", 30e9) + health.get("Timeout", 30e9))) * NS


# What a service that is not ready yet answers with; anything else (an AssertionError) fails at once.
NOT_YET = (OSError, psycopg2.OperationalError, ValueError, KeyError)


def wait_for(what: str, check, deadline_s: float, poll_s: float = 0.5):
    """check() until it returns a true value (returned); a refused or empty answer counts as 'not yet'."""
    deadline, last = time.monotonic() + deadline_s, None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except NOT_YET as error:
            last = error
        time.sleep(poll_s)
    raise AssertionError(f"{what}: not within {deadline_s:.0f} s (last error: {last!r})")


def wait_healthy(name: str, container) -> None:
    """Docker reports `container` healthy within what its healthcheck allows; stopping or
    restarting on the way fails at once."""
    container.reload()
    health = container.attrs["Config"].get("Healthcheck")
    assert health and health.get("Test"), f"{name}: no healthcheck, from the program or its image"

    def healthy():
        container.reload()
        state = container.attrs["State"]
        assert state["Running"] and not state["Restarting"], f"{name} is not running: {state}"
        return state["Health"]["Status"] == "healthy"
    wait_for(f"{name} healthy", healthy, health_deadline_s(health))
    assert container.attrs["RestartCount"] == 0, f"{name} restarted {container.attrs['RestartCount']} times"


# ---- memory of the lab's containers ----------------------------------------------------------------
MB = 2 ** 20


def memory_now(container) -> dict:
    """One reading of a container's memory from the engine's stats (bytes): `usage` as the cgroup
    counts it (page cache included), `working_set` without inactive file cache (what `docker
    stats` shows, and what the kernel cannot simply drop), `max_usage` the cgroup's own peak since
    the start (cgroup v1 only; None on v2), and the `limit`."""
    stats = container.stats(stream=False)["memory_stats"]
    detail = stats.get("stats", {})
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return {"usage": stats.get("usage", 0), "working_set": stats.get("usage", 0) - inactive,
            "max_usage": stats.get("max_usage"), "limit": stats.get("limit", 0)}


class MemoryPeaks:
    """Samples every container of a lab every `every_s` seconds while running (a thread), keeping each
    one's highest working set and usage; `peaks()` adds the cgroup's own peak where the engine has it."""

    def __init__(self, lab: Lab, every_s: float = 2.0):
        import threading
        self.lab, self.every_s = lab, every_s
        self.highest: dict[str, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for name, container in self.lab.containers().items():
            try:
                now = memory_now(container)
            except docker.errors.APIError:   # replaced or stopped between the listing and the read
                continue
            best = self.highest.setdefault(name, {"usage": 0, "working_set": 0, "max_usage": 0, "limit": 0})
            for key in ("usage", "working_set", "max_usage"):
                best[key] = max(best[key], now[key] or 0)
            best["limit"] = now["limit"]

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def __enter__(self) -> "MemoryPeaks":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def report(self) -> str:
        lines = []
        for name, peak in sorted(self.highest.items()):
            cgroup = f", cgroup peak {peak['max_usage'] / MB:.0f} MB" if peak["max_usage"] else ""
            lines.append(f"{name.removeprefix(PREFIX + '-')}: working set {peak['working_set'] / MB:.0f} MB, "
                         f"usage {peak['usage'] / MB:.0f} MB{cgroup}, limit {peak['limit'] / MB:.0f} MB "
                         f"({100 * peak['working_set'] / peak['limit']:.0f}% of it)")
        return "\n".join(lines)
