"""PostgreSQL 15: tuned server flags, init scripts, a named data volume, waited on until healthy."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import datadog as datadog_render, postgres as render

# A first start runs initdb, the schema and the seed before it reports healthy. `up` waits for it
# (pulumi-docker's default wait of 60 s is too short for a seed), but no longer than a first start
# can take: the provider polls until `wait_timeout` even when the server has exited
# (resource_docker_container_funcs.go 590-627), so a PostgreSQL that cannot start keeps `up` waiting
# exactly this long before it says anything. Measured (bench/bench_init.py, 2 cores): 21.8 s at
# 100,000 customers, of which the seed 19.2 s, about 0.2 s per 1,000 customers and linear in them.
INIT_BASE_S = 60                        # initdb, schema, server start, first probes; a slow disk
SEED_MS_PER_1000_CUSTOMERS = 200        # measured
SLOWER_MACHINE_FACTOR = 3               # a busy laptop, Docker Desktop's VM
# After the wait, time to create, upload and start: create (and update) timeouts cover both. The
# provider bounds create by the resource's create timeout, 20 minutes unless set
# (terraform-provider-docker, resource_docker_container.go).
CREATE_MARGIN_S = 300


def first_init_timeout_s(seed_customers: int) -> int:
    """How long `up` waits for a new PostgreSQL to be healthy: two minutes at the default seed,
    about 21 at the largest (2,000,000 customers)."""
    seed_ms = SLOWER_MACHINE_FACTOR * SEED_MS_PER_1000_CUSTOMERS * seed_customers // 1000
    return INIT_BASE_S + math.ceil(seed_ms / 1000)


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
        wait_s = first_init_timeout_s(args.seed_customers)
        timeout = f"{math.ceil((wait_s + CREATE_MARGIN_S) / 60)}m"

        container = dc.lab_container(
            self, name, args, topology.POSTGRES_ALIAS, image.image_id, opts, internal_port=topology.POSTGRES_PORT,
            timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout),
            entrypoints=entrypoint,
            command=render.container_command(),
            envs=dc.env_list({topology.SEED_CUSTOMERS_ENV: str(args.seed_customers)}, secret_env),
            uploads=dc.uploads(render.container_uploads()),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=render.DATA_DIR)],
            # Probes failing while the seed runs do not count until the wait is over.
            healthcheck=dc.healthcheck(render.healthcheck_command(), interval_s=5, timeout_s=5, retries=5,
                                       start_period_s=wait_s),
            wait=True,
            wait_timeout=wait_s,
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
