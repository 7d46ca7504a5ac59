"""postgres_exporter 0.17.1 on the credit database, with the lab's extra collectors."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import exporter as render


@dataclass
class PostgresExporterArgs(dc.PublishedContainerArgs):
    password: pulumi.Output[str]
    """Password of the exporter's role (secret)."""


class PostgresExporter(pulumi.ComponentResource):
    container: docker.Container
    """The exporter container."""

    def __init__(self, name: str, args: PostgresExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:PostgresExporter", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        self.container = dc.lab_container(
            self, name, args, topology.EXPORTER_ALIAS, image.image_id, internal_port=topology.EXPORTER_PORT,
            command=render.flags(),
            envs=dc.env_list(render.env(topology.POSTGRES_ALIAS, topology.POSTGRES_PORT),
                             {render.PASSWORD_ENV: args.password}),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=render.healthcheck(),
                interval="10s", timeout="5s", retries=3),
        )
        self.register_outputs({"containerName": self.container.name})
