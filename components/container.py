"""A container of the lab, described once, whatever platform runs it (the shape Score gives:
image, command, variables, files, probes, resources, ports). Each component builds one and hands it
to the stack's platform (components/platforms/), which places it: a Docker container on the lab's
network, or Kubernetes objects in the lab's namespace."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi

from components.render.upload import Upload


@dataclass(frozen=True)
class Probe:
    """The container's health check: a command run inside it, with its timing. Docker runs it as the
    container's HEALTHCHECK; Kubernetes as its readiness and liveness probes, with a startup probe
    for the start period."""
    test: Sequence[str]
    """Docker's form: ["CMD", argv...] or ["CMD-SHELL", "shell command"]."""
    interval_s: int = 10
    timeout_s: int = 5
    retries: int = 3
    start_period_s: int = 0

    def argv(self) -> list[str]:
        """The command as an argv (Kubernetes' exec probe)."""
        kind, *rest = self.test
        if kind == "CMD":
            return list(rest)
        if kind == "CMD-SHELL":
            return ["/bin/sh", "-c", rest[0]]
        raise ValueError(f"a probe's test starts with CMD or CMD-SHELL, not {kind!r}")


@dataclass(frozen=True)
class Data:
    """Persistent data: a Docker named volume, a Kubernetes PersistentVolumeClaim."""
    name: str
    """Short name (the volume is `<prefix>-<name>` on Docker)."""
    path: str
    """Where the container keeps it."""
    size_gb: int = 5
    """What a claim asks for on Kubernetes."""
    owned_by_process: Optional[str] = None
    """The variable that tells the process where its data goes, where the process must own that
    folder (PostgreSQL's PGDATA: initdb wants it 0700 and its own). A new claim's root belongs to
    root on most provisioners, so on Kubernetes the claim is mounted at `path` (in place of the
    image's VOLUME there, which the runtime would otherwise make anew in each pod) and the variable
    points one folder down; on Docker a new named volume copies the image's folder with its owner."""


@dataclass
class ContainerSpec:
    """One container of the lab."""
    alias: str
    """Its name on the lab's network: the Docker alias, the Kubernetes Service."""
    image: pulumi.Input[str]
    """An exact image reference (components/versions.py) or the workload's built image."""
    pinned: bool = True
    """A public image pinned by the stack (Docker pulls it once and keeps it; a cluster pulls it)."""
    image_id: Optional[pulumi.Input[str]] = None
    """A locally built image's ID: Docker runs it by ID, so a rebuild replaces the container; a
    cluster that shares the local image store (Docker Desktop) runs `image` without pulling it, and
    the ID's change rolls the pod."""
    entrypoint: Optional[Sequence[str]] = None
    command: Optional[Sequence[str]] = None
    env: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Variables whose values are secrets: Docker keeps the whole env encrypted in the state,
    Kubernetes puts them in a Secret."""
    files: Sequence[Upload] = ()
    """Files written into it before it starts (their contents may be outputs of other resources)."""
    probe: Optional[Probe] = None
    probe_in_image: bool = False
    """The image carries `probe` as its HEALTHCHECK: Docker runs the image's; Kubernetes, which
    ignores HEALTHCHECK, runs `probe`."""
    wait_s: Optional[int] = None
    """Wait this long for it to be healthy before its dependents are made (None: do not wait)."""
    port: Optional[int] = None
    """The port it serves on."""
    host_port: Optional[int] = None
    """Where the user reaches `port` from their machine (Docker publishes it on the bind address;
    Kubernetes serves it through the stack's Service type)."""
    data: Optional[Data] = None
    stateful: bool = False
    """One instance with a stable identity (PostgreSQL): a StatefulSet on Kubernetes."""
    user: Optional[int] = None
    """The uid (and gid) its image runs as: Kubernetes requires it numeric to enforce non-root."""
    stop_signal: Optional[str] = None
    stop_timeout_s: Optional[int] = None
    shm_mb: Optional[int] = None
    labels: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Docker labels (the Datadog Agent on Docker reads its log settings there)."""
    annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Kubernetes annotations of its pods (the Datadog Agent's Autodiscovery reads them there)."""
    node_ip_env: Optional[str] = None
    """A variable set to the IP of the node the pod runs on (Kubernetes' downward API), where a
    per-node service listens: the Datadog Agent's trace intake."""
    database_client: bool = False
    """It connects to PostgreSQL (the NetworkPolicy lets only these in)."""
    create_timeout_s: Optional[int] = None
    """How long its create may take, the health wait included."""
