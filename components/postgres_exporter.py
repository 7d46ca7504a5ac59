"""postgres_exporter 0.17.1 on the credit database, with the lab's extra collectors."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import exporter as render


@dataclass
class PostgresExporterArgs:
    prefix: str
    """Prefix of the container name."""
    image: str
    """Exporter image with an exact tag."""
    network_name: pulumi.Input[str]
    """The lab network, joined under the alias `postgres-exporter`."""
    password: pulumi.Output[str]
    """Password of the exporter's role (secret)."""
    bind_address: str
    """Host address the port is published on."""
    host_port: int
    """Host port for /metrics."""
    depends_on: list[pulumi.Resource]
    """The healthy PostgreSQL container."""


class PostgresExporter(pulumi.ComponentResource):
    container: docker.Container
    """The exporter container."""

    def __init__(self, name: str, args: PostgresExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:PostgresExporter", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        self.container = docker.Container(
            f"{name}-container",
            name=f"{args.prefix}-postgres-exporter",
            image=image.image_id,
            command=render.flags(),
            envs=dc.env_list(render.env(topology.POSTGRES_ALIAS, topology.POSTGRES_PORT),
                             {render.PASSWORD_ENV: args.password}),
            networks_advanced=dc.attach(args.network_name, topology.EXPORTER_ALIAS),
            ports=dc.publish(topology.EXPORTER_PORT, args.host_port, args.bind_address),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=render.healthcheck(),
                interval="10s", timeout="5s", retries=3),
            memory=dc.MEMORY_MB["postgres-exporter"],
            restart=dc.RESTART_POLICY,
            opts=dc.container_options(self, args.depends_on),
        )
        self.register_outputs({"containerName": self.container.name})
