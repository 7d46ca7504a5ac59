"""PostgreSQL 15: tuned server flags, init scripts, a named data volume, waited on until healthy."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import datadog as datadog_render, postgres as render

# A first start initializes and seeds the database before it reports healthy (minutes at the
# default scale); pulumi-docker's default wait of 60 s is far too short.
FIRST_INIT_TIMEOUT_S = 1800
# The wait runs inside the container's create, which the provider bounds by the resource's create
# timeout: 20 minutes unless set (terraform-provider-docker, resource_docker_container.go). Give
# create (and update, for in-place changes) the whole wait plus time to create and start.
CREATE_TIMEOUT_S = FIRST_INIT_TIMEOUT_S + 300


@dataclass
class PostgresArgs(dc.PublishedContainerArgs):
    image: str
    """PostgreSQL 15 alpine image reference (components/versions.py)."""
    passwords: dict[str, pulumi.Output[str]]
    """Database role -> secret password; they reach the init scripts only through env."""
    seed_customers: int
    """Customers generated on first init."""


class Postgres(pulumi.ComponentResource):
    host: pulumi.Output[str]
    """Where the lab's containers reach the database: its alias on the lab network."""
    port: pulumi.Output[int]
    """The port it listens on inside the network."""
    container_name: pulumi.Output[str]
    """The database container (created only once healthy)."""
    volume_name: pulumi.Output[str]
    """Named volume holding the data directory: survives container replacement."""

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Postgres", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        volume = docker.Volume(f"{name}-data", name=f"{args.prefix}-pgdata",
                               opts=pulumi.ResourceOptions(parent=self))

        secret_env = {topology.PASSWORD_ENV[role]: password for role, password in args.passwords.items()}
        entrypoint = render.container_entrypoint()
        timeout = f"{CREATE_TIMEOUT_S // 60}m"

        container = dc.lab_container(
            self, name, args, topology.POSTGRES_ALIAS, image.image_id, opts, internal_port=topology.POSTGRES_PORT,
            timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
            entrypoints=entrypoint,
            command=render.container_command(),
            envs=dc.env_list({topology.SEED_CUSTOMERS_ENV: str(args.seed_customers)}, secret_env),
            uploads=dc.uploads(render.container_uploads()),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=render.DATA_DIR)],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=render.healthcheck_command(), interval="5s", timeout="5s", retries=5,
                start_period=f"{FIRST_INIT_TIMEOUT_S}s"),
            wait=True,
            wait_timeout=FIRST_INIT_TIMEOUT_S,
            # Parallel query workers share memory through /dev/shm; Docker's 64 MB is too small.
            shm_size=256,
            # The Datadog Agent (when there is one) collects this container's log: slow
            # statements and auto_explain plans.
            labels=dc.labels({datadog_render.LOGS_LABEL: datadog_render.postgres_logs_label()}),
        )
        self.host = pulumi.Output.from_input(topology.POSTGRES_ALIAS)
        self.port = pulumi.Output.from_input(topology.POSTGRES_PORT)
        self.container_name = container.name
        self.volume_name = volume.name
        self.register_outputs({"host": self.host, "port": self.port, "containerName": self.container_name,
                               "volumeName": self.volume_name})
