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
    """The container's non-secret env (PGPASSWORD goes separately, as a secret)."""
    env = {
        ws.ENV_PGHOST: topology.POSTGRES_ALIAS,
        ws.ENV_PGPORT: str(topology.POSTGRES_PORT),
        ws.ENV_PGDATABASE: topology.DATABASE,
        ws.ENV_PGUSER: topology.WORKLOAD_ROLE,
        ws.ENV_RATE: args.knobs.rate,
        ws.ENV_SERVICES: ",".join(args.knobs.services),
        ws.ENV_SCENARIO: args.knobs.scenario,
        ws.ENV_DD_ENV: args.dd_env,
        ws.ENV_DD_VERSION: ws.DEFAULT_VERSION,
        ws.ENV_DD_DBM_MODE: "full",
        ws.ENV_DD_TRACE_ENABLED: "true" if args.agent_host else "false",
    }
    if args.agent_host:
        env[ws.ENV_DD_TRACE_AGENT_URL] = f"http://{args.agent_host}:{topology.APM_PORT}"
    return env


class Workload(pulumi.ComponentResource):
    image: docker.Image
    """The locally built workload image (not pushed anywhere)."""
    container: docker.Container
    """The workload container."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Workload", name, None, opts)
        self.image = docker.Image(
            f"{name}-image",
            image_name=f"{args.prefix}-workload:{ws.DEFAULT_VERSION}",
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
