"""postgres_exporter 0.17 on the credit database, with the lab's extra collectors."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components import docker_common as dc, topology
from components.container import ContainerSpec, Probe
from components.render import exporter as render

# The image's USER nobody (prometheus-community/postgres_exporter Dockerfile, busybox's uid 65534).
IMAGE_UID = 65534


@dataclass
class PostgresExporterArgs:
    platform: object
    """Where it runs (components/platforms)."""
    image: str
    """postgres_exporter 0.17 image reference (components/versions.py)."""
    db_host: pulumi.Input[str]
    """The database's address on the lab network (Postgres.host)."""
    db_port: pulumi.Input[int]
    """Its port there (Postgres.port)."""
    password: pulumi.Output[str]
    """Password of the exporter's role (secret)."""
    host_port: int
    """Where the user reaches its /metrics."""


class PostgresExporter(pulumi.ComponentResource):
    host: pulumi.Output[str]
    """Where Prometheus scrapes it: its name on the lab network."""
    port: pulumi.Output[int]
    """The port of its /metrics there."""
    endpoint: pulumi.Output[str]
    """Where the user reaches it from their machine ("host:port")."""
    container_name: pulumi.Output[str]
    """The exporter container (Docker) or Deployment (Kubernetes)."""

    def __init__(self, name: str, args: PostgresExporterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("credit-lab:index:PostgresExporter", name, None, opts)
        placed = args.platform.place(self, name, ContainerSpec(
            alias=topology.EXPORTER_ALIAS, image=args.image, command=render.flags(),
            env=dc.rendered(render.env, args.db_host, args.db_port), secret_env={render.PASSWORD_ENV: args.password},
            probe=Probe(render.healthcheck()), port=topology.EXPORTER_PORT, host_port=args.host_port,
            user=IMAGE_UID, database_client=True), opts)
        self.host = pulumi.Output.from_input(topology.EXPORTER_ALIAS)
        self.port = pulumi.Output.from_input(topology.EXPORTER_PORT)
        self.container_name = placed.name
        self.endpoint = placed.endpoint
        self.register_outputs({"host": self.host, "port": self.port, "containerName": self.container_name})
