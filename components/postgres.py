"""PostgreSQL 15: tuned server flags, init scripts, persistent data, waited on until healthy."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import pulumi

from components import topology
from components.container import ContainerSpec, Data, Probe
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
# The image's user `postgres` (docker-library/postgres 15/alpine Dockerfile: uid and gid 70).
IMAGE_UID = 70


def first_init_timeout_s(seed_customers: int) -> int:
    """How long `up` waits for a new PostgreSQL to be healthy: two minutes at the default seed,
    about 21 at the largest (2,000,000 customers)."""
    seed_ms = SLOWER_MACHINE_FACTOR * SEED_MS_PER_1000_CUSTOMERS * seed_customers // 1000
    return INIT_BASE_S + math.ceil(seed_ms / 1000)


@dataclass
class PostgresArgs:
    platform: object
    """Where it runs (components/platforms)."""
    image: str
    """PostgreSQL 15 alpine image reference (components/versions.py)."""
    passwords: dict[str, pulumi.Output[str]]
    """Database role -> secret password; they reach the init scripts only through env."""
    seed_customers: int
    """Customers generated on first init."""
    host_port: int
    """Where the user reaches it (Docker: the host port on the bind address)."""
    datadog: Optional["DatadogCheck"] = None
    """With the Datadog Agent on Kubernetes: the check its pod's Autodiscovery annotations carry."""


@dataclass
class DatadogCheck:
    """The `postgres` check with DBM, as the Agent finds it on the database's pod (Kubernetes)."""
    env: str
    """The env tag."""
    stack: str
    """The stack tag (render/datadog.stack_tag)."""
    reported_hostname: str
    """The name DBM lists the database under (the Docker container's name, as a DNS label)."""


def spec(args: PostgresArgs) -> ContainerSpec:
    """The database container, whatever the platform."""
    wait_s = first_init_timeout_s(args.seed_customers)
    return ContainerSpec(
        alias=topology.POSTGRES_ALIAS, image=args.image, entrypoint=render.container_entrypoint(),
        command=render.container_command(),
        env={topology.SEED_CUSTOMERS_ENV: str(args.seed_customers)},
        secret_env={topology.PASSWORD_ENV[role]: password for role, password in args.passwords.items()},
        files=render.container_uploads(),
        # Probes failing while the seed runs do not count until the wait is over.
        probe=Probe(render.healthcheck_command(), interval_s=5, timeout_s=5, retries=5, start_period_s=wait_s),
        wait_s=wait_s, create_timeout_s=wait_s + CREATE_MARGIN_S,
        port=topology.POSTGRES_PORT, host_port=args.host_port,
        data=Data("pgdata", render.DATA_DIR, owned_by_process=render.DATA_DIR_ENV), stateful=True, user=IMAGE_UID,
        # Parallel query workers share memory through /dev/shm; Docker's 64 MB is too small.
        shm_mb=256,
        # The Datadog Agent (when there is one) collects this container's log: slow statements and
        # auto_explain plans.
        labels={datadog_render.LOGS_LABEL: datadog_render.postgres_logs_label()},
        annotations=datadog_render.pod_annotations(topology.POSTGRES_ALIAS, args.datadog.env, topology.POSTGRES_PORT,
                                                   args.datadog.reported_hostname, args.datadog.stack)
        if args.datadog else {})


class Postgres(pulumi.ComponentResource):
    host: pulumi.Output[str]
    """Where the lab's containers reach the database: its name on the lab network."""
    port: pulumi.Output[int]
    """The port it listens on inside the network."""
    endpoint: pulumi.Output[str]
    """Where the user reaches it from their machine ("host:port")."""
    container_name: pulumi.Output[str]
    """The database container (Docker) or StatefulSet (Kubernetes), made only once healthy."""
    volume_name: pulumi.Output[str]
    """Where its data lives (a named volume, a claim): survives the container's replacement."""

    def __init__(self, name: str, args: PostgresArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("credit-lab:index:Postgres", name, None, opts)
        placed = args.platform.place(self, name, spec(args), opts)
        self.host = pulumi.Output.from_input(topology.POSTGRES_ALIAS)
        self.port = pulumi.Output.from_input(topology.POSTGRES_PORT)
        self.container_name = placed.name
        self.volume_name = placed.data_name
        self.endpoint = placed.endpoint
        self.register_outputs({"host": self.host, "port": self.port, "containerName": self.container_name,
                               "volumeName": self.volume_name})
