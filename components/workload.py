"""The workload: five credit services generating traced SQL, built locally from workload/."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.settings import Workload as WorkloadKnobs
from workload.credit_workload import settings as ws

# Relative to the project directory, where `pulumi up` runs (keeps the state portable).
BUILD_CONTEXT = "./workload"


@dataclass
class WorkloadArgs(dc.ContainerArgs):
    db_host: pulumi.Input[str]
    """The database's address on the lab network (Postgres.host)."""
    db_port: pulumi.Input[int]
    """Its port there (Postgres.port)."""
    password: pulumi.Output[str]
    """Password of the workload's database role (secret)."""
    knobs: WorkloadKnobs
    """Rate, services and scenario (validated)."""
    dd_env: str
    """The env tag of traces."""
    agent_host: Optional[pulumi.Input[str]]
    """The Datadog Agent's address (DatadogAgent.host), or None: tracing off, no errors, no log spam."""


def workload_env(args: WorkloadArgs) -> pulumi.Output[dict[str, str]]:
    """The container's non-secret env, from the workload's own renderer (PGPASSWORD goes
    separately, as a secret). Without an agent, tracing is off."""
    return dc.rendered(
        lambda host, port, agent_host: ws.render_env(
            host=host, port=port, dbname=topology.DATABASE, user=topology.WORKLOAD_ROLE, rate=args.knobs.rate,
            services=args.knobs.services, scenario=args.knobs.scenario, dd_env=args.dd_env, agent_host=agent_host),
        args.db_host, args.db_port, args.agent_host)


class Workload(pulumi.ComponentResource):
    container_name: pulumi.Output[str]
    """The workload container."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Workload", name, None, opts)
        image = docker.Image(
            f"{name}-image",
            # Image repositories are lowercase: a stack named `Dev` still builds.
            image_name=f"{dc.dns_label(args.prefix)}-workload:{ws.DEFAULT_VERSION}",
            build=docker.DockerBuildArgs(context=BUILD_CONTEXT),  # uses the context's Dockerfile
            skip_push=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        container = dc.lab_container(
            # The local image ID: a rebuild with changed code replaces the container.
            self, name, args, topology.WORKLOAD_ALIAS, image.repo_digest, opts,
            envs=dc.env_list(workload_env(args), {ws.ENV_PGPASSWORD: args.password}),
            # SIGTERM lets in-flight work finish; give it time before Docker kills it.
            stop_signal="SIGTERM",
            stop_timeout=15,
        )
        self.container_name = container.name
        self.register_outputs({"containerName": self.container_name})
