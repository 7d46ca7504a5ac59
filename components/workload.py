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
class WorkloadArgs:
    prefix: str
    """Prefix of the container and image names."""
    network_name: pulumi.Input[str]
    """The lab network, joined under the alias `workload`."""
    password: pulumi.Output[str]
    """Password of the workload's database role (secret)."""
    knobs: WorkloadKnobs
    """Rate, services and scenario (validated)."""
    dd_env: str
    """The env tag of traces."""
    agent_host: Optional[str]
    """Alias of the Datadog Agent, or None: tracing off, no errors, no log spam."""
    depends_on: list[pulumi.Resource]
    """The healthy PostgreSQL container, and the Agent when there is one."""


def workload_env(args: WorkloadArgs) -> dict[str, str]:
    """The container's non-secret env, from the workload's own renderer (PGPASSWORD goes
    separately, as a secret). Without an agent, tracing is off."""
    return ws.render_env(
        host=topology.POSTGRES_ALIAS, port=topology.POSTGRES_PORT, dbname=topology.DATABASE,
        user=topology.WORKLOAD_ROLE, rate=args.knobs.rate, services=args.knobs.services,
        scenario=args.knobs.scenario, dd_env=args.dd_env, agent_host=args.agent_host)


class Workload(pulumi.ComponentResource):
    image: docker.Image
    """The locally built workload image (not pushed anywhere)."""
    container: docker.Container
    """The workload container."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Workload", name, None, opts)
        self.image = docker.Image(
            f"{name}-image",
            # Image repositories are lowercase: a stack named `Dev` still builds.
            image_name=f"{dc.dns_label(args.prefix)}-workload:{ws.DEFAULT_VERSION}",
            build=docker.DockerBuildArgs(context=BUILD_CONTEXT),  # uses the context's Dockerfile
            skip_push=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.container = dc.lab_container(
            # The local image ID: a rebuild with changed code replaces the container.
            self, name, args, topology.WORKLOAD_ALIAS, self.image.repo_digest,
            envs=dc.env_list(workload_env(args), {ws.ENV_PGPASSWORD: args.password}),
            # SIGTERM lets in-flight work finish; give it time before Docker kills it.
            stop_signal="SIGTERM",
            stop_timeout=15,
        )
        self.register_outputs({"containerName": self.container.name})
