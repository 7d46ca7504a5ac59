"""The Datadog Agent 7: the `postgres` check with Database Monitoring, logs, and APM intake."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import datadog as render

# Host paths the Agent reads for container metadata and metrics (Linux; Docker Desktop's VM has them too).
HOST_MOUNTS = (
    ("/var/run/docker.sock", "/var/run/docker.sock"),
    ("/proc/", "/host/proc/"),
    ("/sys/fs/cgroup/", "/host/sys/fs/cgroup"),
)


@dataclass
class DatadogAgentArgs(dc.ContainerArgs):
    api_key: pulumi.Output[str]
    """Datadog API key (secret)."""
    site: str
    """Datadog site, e.g. datadoghq.com."""
    env: str
    """The env tag."""
    datadog_password: pulumi.Output[str]
    """Password of the `datadog` database role (secret)."""


class DatadogAgent(pulumi.ComponentResource):
    container: docker.Container
    """The Agent container."""

    def __init__(self, name: str, args: DatadogAgentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:DatadogAgent", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        self.container = dc.lab_container(
            self, name, args, topology.AGENT_ALIAS, image.image_id,
            envs=dc.env_list(render.agent_env(args.site, args.env, args.prefix),
                             {render.API_KEY_ENV: args.api_key,
                              render.POSTGRES_PASSWORD_ENV: args.datadog_password}),
            labels=dc.labels({render.CHECKS_LABEL: render.checks_label(
                args.env, dc.container_name(args.prefix, topology.POSTGRES_ALIAS))}),
            volumes=[docker.ContainerVolumeArgs(host_path=host, container_path=inside, read_only=True)
                     for host, inside in HOST_MOUNTS],
        )
        self.register_outputs({"containerName": self.container.name})
