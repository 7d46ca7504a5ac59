"""The lab's containers on the real Docker Engine, for the component tests.

Each container is created through tests/engine/docker_provider.py, the same create request, network
joins and uploads the real-lab tests' `pulumi up` makes, from the inputs the program declares
(tests/engine/program.py), on the images `python -m tests.images.build` puts on the engine. What a
component test leaves out of the program's inputs, and why:
- `ports`: a test reaches a container at its address on its own network; it never binds a host port
  (another stack, or the real-lab tests, may hold it);
- `restart`: a container that stops stays stopped, so a test sees its exit code and log (the restart
  policies themselves are proven on the real lab, tests/integration/test_real_lab_faults.py);
- `wait`: the tests wait on their own conditions.
Everything a test makes carries the OWNER_LABEL with its process id; what a killed run left is
removed by the next one, and what this run made is removed when it exits.
"""
from __future__ import annotations

import atexit
import dataclasses
import functools
import io
import itertools
import os
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import docker
import requests

from tests.engine import docker_provider

PREFIX = "credit-lab-test"
OWNER_LABEL = "credit-lab.test-owner"
# A Docker API call answers in well under a second; a container's stop or an exec may take as long
# as the caller allows, and the client's read timeout is set from that (see _api).
API_TIMEOUT_S = 60
# The program's container inputs a component test passes on as declared (see the module docstring).
PASSED_THROUGH = ("memory", "memorySwap", "logDriver", "logOpts", "healthcheck", "labels", "shmSize", "stopSignal",
                  "stopTimeout", "cgroupnsMode", "pidMode")
_numbers = itertools.count(1)


@functools.lru_cache(maxsize=None)
def _client(timeout_s: int = API_TIMEOUT_S) -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=timeout_s)
        client.ping()
    except docker.errors.DockerException as error:
        raise RuntimeError(f"no Docker Engine answers ({error}): run `bash .ci/install-tools`, which "
                           "installs and starts one") from error
    if timeout_s == API_TIMEOUT_S:
        _remove_stale(client)
    return client


def _api(timeout_s: float = API_TIMEOUT_S) -> docker.APIClient:
    return _client(max(API_TIMEOUT_S, int(timeout_s) + 10)).api


def _owner() -> dict[str, str]:
    return {OWNER_LABEL: str(os.getpid())}


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError):
        return False


def _remove_stale(client: docker.DockerClient) -> None:
    """What a test run that was killed left (its atexit never ran): containers, then networks and volumes."""
    api, stale = client.api, lambda labels: not _alive((labels or {}).get(OWNER_LABEL, ""))
    for container in api.containers(all=True, filters={"label": OWNER_LABEL}):
        if stale(container["Labels"]):
            api.remove_container(container["Id"], v=True, force=True)
    for network in api.networks(filters={"label": OWNER_LABEL}):
        if stale(network["Labels"]):
            api.remove_network(network["Id"])
    for volume in api.volumes(filters={"label": OWNER_LABEL}).get("Volumes") or []:
        if stale(volume["Labels"]):
            api.remove_volume(volume["Name"], force=True)


def _ignore_missing(action) -> None:
    try:
        action()
    except docker.errors.NotFound:
        pass


class Network:
    """A user-defined bridge network, as the program's network (driver bridge, IPAM default)."""

    def __init__(self, name: str = "lab"):
        self.name = f"{PREFIX}-{name}-{os.getpid()}-{next(_numbers)}"
        self.id = _api().create_network(self.name, driver="bridge", labels=_owner(),
                                        ipam=docker.types.IPAMConfig(driver="default"))["Id"]
        atexit.register(self.remove)

    @property
    def gateway(self) -> str:
        """The host's address on this network."""
        return _api().inspect_network(self.id)["IPAM"]["Config"][0]["Gateway"]

    def remove(self) -> None:
        _ignore_missing(lambda: _api().remove_network(self.id))


class Volume:
    """A named volume (driver local): a new one mounted over a directory of the image is filled from
    it, owner and mode included, by the engine itself."""

    def __init__(self, name: str):
        self.name = f"{PREFIX}-{name}-{os.getpid()}-{next(_numbers)}"
        self.path = Path(_api().create_volume(self.name, labels=_owner())["Mountpoint"])
        atexit.register(self.remove)

    def remove(self) -> None:
        _ignore_missing(lambda: _api().remove_volume(self.name, force=True))


@dataclass
class ContainerConfig:
    """A container as the program declares it, or as `docker run IMAGE` would make it."""
    alias: str
    image: str
    """An image reference on the engine."""
    entrypoint: Sequence[str] | None = None    # None: the image's
    command: Sequence[str] | None = None       # None: the image's CMD
    env: Mapping[str, str] = field(default_factory=dict)
    uploads: Iterable[Mapping] = ()            # pulumi-docker upload blocks
    volumes: Mapping[str, Volume] = field(default_factory=dict)   # container path -> volume
    declared: Mapping = field(default_factory=dict)
    """The program's other inputs of this container; those in PASSED_THROUGH are applied."""

    def inputs(self, name: str, network: Network) -> dict:
        """The provider's inputs for this container (what docker_provider creates it from)."""
        inputs = {key: self.declared[key] for key in PASSED_THROUGH if key in self.declared}
        inputs.update(name=name, image=self.image, envs=[f"{k}={v}" for k, v in self.env.items()],
                      uploads=list(self.uploads),
                      volumes=[{"volumeName": volume.name, "containerPath": path}
                               for path, volume in self.volumes.items()],
                      networksAdvanced=[{"name": network.name, "aliases": [self.alias]}],
                      labels=[*inputs.get("labels", []),
                              *({"label": k, "value": v} for k, v in _owner().items())])
        if self.entrypoint is not None:
            inputs["entrypoints"] = list(self.entrypoint)
        if self.command is not None:
            inputs["command"] = list(self.command)
        return inputs


def _epoch(stamp: str) -> float:
    """Docker's RFC 3339 log timestamp (nanoseconds, Z) as seconds since the epoch."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return moment.timestamp() + float(f"0.{fraction or 0}")


class Container:
    """One container on `network`, created (uploads in place) but not started."""

    def __init__(self, network: Network, config: ContainerConfig):
        self.network, self.config = network, config
        self.name = f"{PREFIX}-{config.alias}-{os.getpid()}-{next(_numbers)}"
        self.id = docker_provider.create_unstarted(_client(), config.inputs(self.name, network))
        self._started = False
        self._final_state: dict | None = None   # its state when removed
        self._final_lines: list | None = None    # and its log
        atexit.register(self.remove)

    def _state(self) -> dict:
        if self._final_state is not None:
            return self._final_state
        return _api().inspect_container(self.id)["State"]

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "Container":
        _api().start(self.id)
        self._started = True
        return self

    @property
    def ip(self) -> str:
        """Its address on the network (Docker gives one at start)."""
        networks = _api().inspect_container(self.id)["NetworkSettings"]["Networks"]
        return networks[self.network.name]["IPAddress"]

    @property
    def pid(self) -> int | None:
        """PID 1 of the container, as this machine numbers it."""
        return self._state().get("Pid") or None

    @property
    def running(self) -> bool:
        return self._started and self._state()["Running"]

    @property
    def exit_code(self) -> int | None:
        """None until it was started and has stopped."""
        if not self._started:
            return None
        state = self._state()
        return None if state["Running"] else state["ExitCode"]

    def oom_killed(self) -> bool:
        return self._state()["OOMKilled"]

    def wait(self, timeout: float) -> int:
        try:
            return _api(timeout).wait(self.id, timeout=timeout)["StatusCode"]
        except requests.exceptions.ConnectionError as error:   # the read timed out
            raise TimeoutError(f"{self.name} still running after {timeout:.0f} s") from error

    def kill(self, sig: int) -> None:
        _api().kill(self.id, signal=int(sig))

    def stop(self, timeout: float | None = None) -> int | None:
        """docker stop: the stop signal, SIGKILL after the container's stop timeout (or `timeout`).
        Returns the exit code."""
        if not self._started or self._final_state is not None:
            return self.exit_code
        grace = timeout if timeout is not None else float(self.config.declared.get("stopTimeout") or 10)
        _api(grace).stop(self.id, timeout=None if timeout is None else int(timeout))
        return self._state()["ExitCode"]

    def exec(self, argv: Sequence[str], user: str | None = None, env: Mapping[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess:
        """docker exec: the container's env (plus `env`), user (or `user`) and working directory."""
        api = _api(timeout)
        exec_id = api.exec_create(self.id, list(argv), user=user or "", environment=dict(env or {}))["Id"]
        try:
            out, err = api.exec_start(exec_id, demux=True)
        except requests.exceptions.ConnectionError as error:
            raise subprocess.TimeoutExpired(list(argv), timeout) from error
        code = api.exec_inspect(exec_id)["ExitCode"]
        return subprocess.CompletedProcess(list(argv), code, (out or b"").decode(errors="replace"),
                                           (err or b"").decode(errors="replace"))

    def healthcheck(self, test: Sequence[str], timeout: float = 30) -> bool:
        """One run of a Docker HEALTHCHECK test (["CMD", ...] or ["CMD-SHELL", "..."])."""
        kind, *rest = test
        assert kind in ("CMD", "CMD-SHELL"), test
        argv = rest if kind == "CMD" else ["/bin/sh", "-c", rest[0]]
        return self.exec(argv, timeout=timeout).returncode == 0

    def idle_twin(self) -> "Container":
        """A started container of the same image and config whose PID 1 only sleeps: where a
        healthcheck must fail because nothing serves."""
        twin = dataclasses.replace(self.config, alias=f"{self.config.alias}-idle", entrypoint=["sleep", "infinity"],
                                   command=[], volumes={})
        return Container(self.network, twin).start()

    # ---- what it printed and wrote -----------------------------------------------------------------
    def logs(self, stream: str | None = None) -> str:
        """docker logs: both streams interleaved, or only "stdout" or "stderr" (kept after remove)."""
        if self._final_lines is not None:
            return "\n".join(text for _, source, text in self._final_lines if stream in (None, source))
        raw = _api().logs(self.id, stdout=stream in (None, "stdout"), stderr=stream in (None, "stderr"))
        return raw.decode(errors="replace").rstrip("\n")

    @property
    def lines(self) -> list[tuple[float, str, str]]:
        """(seconds since the epoch, stream, line) of each log line, in time order (kept after remove)."""
        if self._final_lines is not None:
            return list(self._final_lines)
        found = []
        for stream in ("stdout", "stderr"):
            raw = _api().logs(self.id, stdout=stream == "stdout", stderr=stream == "stderr", timestamps=True)
            for line in raw.decode(errors="replace").splitlines():
                stamp, _, text = line.partition(" ")
                found.append((_epoch(stamp), stream, text))
        return sorted(found, key=lambda entry: entry[0])

    def read_text(self, container_path: str) -> str:
        """A file of the container's filesystem (docker cp), running or stopped."""
        stream, _ = _api().get_archive(self.id, container_path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            return tar.extractfile(member).read().decode()

    def remove(self) -> None:
        """docker rm -f -v: its anonymous volumes go, named ones stay. Removing twice is harmless; its
        last state (exit code, OOMKilled) and its log stay readable."""
        if self._final_state is not None:
            return
        try:
            state = _api().inspect_container(self.id)["State"]
            lines = self.lines
        except docker.errors.NotFound:
            state, lines = {"Running": False, "ExitCode": None, "OOMKilled": False, "Pid": 0}, []
        self._final_lines = lines
        _ignore_missing(lambda: _api().remove_container(self.id, v=True, force=True))
        self._final_state = {**state, "Running": False, "Pid": 0}


def run_once(image: str, argv: Sequence[str], *, files: Mapping[str, str] | None = None,
             entrypoint: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess:
    """`docker run --rm IMAGE argv...` (with `entrypoint` if given; else the image's), `files`
    (container path -> text) written into it before the start, on a network of its own: its exit
    code, stdout and stderr."""
    network = Network("once")
    container = Container(network, ContainerConfig(
        alias="once", image=image, entrypoint=entrypoint, command=list(argv), env=dict(env or {}),
        uploads=[{"file": path, "content": text} for path, text in (files or {}).items()]))
    try:
        container.start()
        code = container.wait(timeout)
        return subprocess.CompletedProcess(list(argv), code, container.logs("stdout"), container.logs("stderr"))
    finally:
        container.remove()
        network.remove()


class StopWaiting(Exception):
    """Raised by a wait_for check when waiting longer cannot help (the process died)."""


def wait_for(check, timeout: float, what, interval: float = 0.2):
    """Poll `check()` until truthy, at most `timeout` seconds; the last error in the message.
    An exception means "not yet" (a server not answering yet), except StopWaiting and a failed
    assertion, which end the wait at once: an assertion in a check is a verdict, never a retry.
    `what` may be a callable, for a message built when the time is up."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (StopWaiting, AssertionError):
            raise
        except Exception as exc:   # noqa: BLE001 - reported on timeout
            last = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what() if callable(what) else what}: not reached within {timeout:.0f} s "
                               f"(last error: {last!r})")
        time.sleep(interval)
