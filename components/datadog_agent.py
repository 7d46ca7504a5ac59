"""The Datadog Agent 7: the `postgres` check with Database Monitoring, logs, and APM intake."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.platforms import kubernetes_agent
from components.platforms.docker import DockerPlatform
from components.render import datadog as render

# Host paths Datadog's Docker install mounts read-only (Datadog docs: Docker Agent; Docker log
# collection). Bind mounts resolve on the daemon's host: on Docker Desktop and Colima that is their
# Linux VM, which has each of these (Docker Desktop special-cases the socket); none is a macOS path.
HOST_MOUNTS = (
    ("/var/run/docker.sock", "/var/run/docker.sock"),
    ("/proc/", "/host/proc/"),
    ("/sys/fs/cgroup/", "/host/sys/fs/cgroup"),
    ("/var/lib/docker/containers", "/var/lib/docker/containers"),
)


@dataclass
class DatadogAgentArgs:
    platform: object
    """Where it runs (components/platforms): a container on Docker, a DaemonSet on Kubernetes."""
    prefix: str
    """Project and stack: its host name, and on Docker its container's and volume's names."""
    image: str
    """Datadog Agent 7.63+ image reference (components/versions.py)."""
    db_host: pulumi.Input[str]
    """The database's address on the lab network (Postgres.host)."""
    db_port: pulumi.Input[int]
    """Its port there (Postgres.port)."""
    db_container_name: pulumi.Input[str]
    """The database's container (Postgres.container_name): DBM lists the database under it."""
    api_key: pulumi.Output[str]
    """Datadog API key (secret)."""
    site: str
    """Datadog site, e.g. datadoghq.com."""
    env: str
    """The env tag."""
    datadog_password: pulumi.Output[str]
    """Password of the `datadog` database role (secret)."""


class DatadogAgent(pulumi.ComponentResource):
    host: Optional[pulumi.Output[str]]
    """Where the workload sends traces: the Agent's alias on the lab network (Docker); None on
    Kubernetes, where each node's Agent listens on the node's IP (`on_each_node`)."""
    on_each_node: bool
    """The workload sends to its node's IP (Kubernetes: a DaemonSet with hostPort 8126)."""
    container_name: pulumi.Output[str]
    """The Agent container (Docker) or DaemonSet (Kubernetes)."""

    def __init__(self, name: str, args: DatadogAgentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:DatadogAgent", name, None, opts)
        if isinstance(args.platform, DockerPlatform):
            self._docker(name, args, opts)
        else:
            placed = kubernetes_agent.place(
                self, name, lab_namespace=args.platform.settings.namespace, image=args.image, api_key=args.api_key,
                datadog_password=args.datadog_password,
                env=render.agent_env(args.site, args.env, agent_hostname(args.prefix), kubernetes=True))
            self.host, self.on_each_node, self.container_name = None, True, placed.name
        self.register_outputs({"host": self.host, "containerName": self.container_name})

    def _docker(self, name: str, args: DatadogAgentArgs, opts: Optional[pulumi.ResourceOptions]) -> None:
        image = dc.pinned_image(f"{name}-image", args.image, self)
        # Log positions survive a new Agent container. Datadog's recipe bind-mounts the host's
        # /opt/datadog-agent/run, which Docker Desktop refuses (not a shared path) and Colima
        # creates empty in its VM; a named volume works the same everywhere.
        run_volume = docker.Volume(f"{name}-run", name=f"{args.prefix}-datadog-run",
                                   opts=pulumi.ResourceOptions(parent=self))
        container = dc.lab_container(
            self, name, dc.ContainerArgs(prefix=args.prefix, network_name=args.platform.network_name),
            topology.AGENT_ALIAS, image.image_id, opts,
            envs=dc.env_list(render.agent_env(args.site, args.env, agent_hostname(args.prefix)),
                             {render.API_KEY_ENV: args.api_key,
                              render.POSTGRES_PASSWORD_ENV: args.datadog_password}),
            labels=dc.labels({render.CHECKS_LABEL: dc.rendered(
                lambda host, port, db_container: render.checks_label(
                    args.env, host, port, dc.dns_label(db_container), render.stack_tag(args.prefix)),
                args.db_host, args.db_port, args.db_container_name)}),
            volumes=[docker.ContainerVolumeArgs(host_path=host, container_path=inside, read_only=True)
                     for host, inside in HOST_MOUNTS]
            + [docker.ContainerVolumeArgs(volume_name=run_volume.name, container_path=render.RUN_PATH)],
            # As Datadog's install runs it: the host's cgroup and PID namespaces, so container
            # metrics are complete on cgroup v2 and processes are attributed to containers.
            cgroupns_mode="host",
            pid_mode="host",
        )
        self.host = pulumi.Output.from_input(topology.AGENT_ALIAS)
        self.on_each_node = False
        self.container_name = container.name


def agent_hostname(prefix: str) -> str:
    """The Agent's host name (DD_HOSTNAME) for a stack's name prefix: what its own service checks
    carry as `host:` (the check-status monitor's scope)."""
    return dc.dns_label(prefix)
