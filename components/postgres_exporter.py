"""postgres_exporter 0.17 on the credit database, with the lab's extra collectors."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import docker_common as dc, topology
from components.render import exporter as render


@dataclass
class PostgresExporterArgs(dc.PublishedContainerArgs):
    image: str
    """postgres_exporter 0.17 image reference (components/versions.py)."""
    db_host: pulumi.Input[str]
    """The database's address on the lab network (Postgres.host)."""
    db_port: pulumi.Input[int]
    """Its port there (Postgres.port)."""
    password: pulumi.Output[str]
    """Password of the exporter's role (secret)."""


class PostgresExporter(pulumi.ComponentResource):
    host: pulumi.Output[str]
    """Where Prometheus scrapes it: its alias on the lab network."""
    port: pulumi.Output[int]
    """The port of its /metrics there."""
    container_name: pulumi.Output[str]
    """The exporter container."""

    def __init__(self, name: str, args: PostgresExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:PostgresExporter", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        container = dc.lab_container(
            self, name, args, topology.EXPORTER_ALIAS, image.image_id, opts, internal_port=topology.EXPORTER_PORT,
            command=render.flags(),
            envs=dc.env_list(dc.rendered(render.env, args.db_host, args.db_port),
                             {render.PASSWORD_ENV: args.password}),
            healthcheck=dc.healthcheck(render.healthcheck()),
        )
        self.host = pulumi.Output.from_input(topology.EXPORTER_ALIAS)
        self.port = pulumi.Output.from_input(topology.EXPORTER_PORT)
        self.container_name = container.name
        self.register_outputs({"host": self.host, "port": self.port, "containerName": self.container_name})
