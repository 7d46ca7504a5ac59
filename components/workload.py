"""The workload: five credit services generating traced SQL, from an image built from workload/."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.container import ContainerSpec, Probe
from components.settings import Workload as WorkloadKnobs, WorkloadImage
from workload.credit_workload import settings as ws

# Relative to the project directory, where `pulumi up` runs (keeps the state portable).
BUILD_CONTEXT = "./workload"
DOCKERFILE = Path(__file__).resolve().parents[1] / "workload" / "Dockerfile"
# The image's USER (workload/Dockerfile: useradd --uid 10001, USER 10001).
IMAGE_UID = 10001


def image_probe(dockerfile: Path = DOCKERFILE) -> Probe:
    """The image's HEALTHCHECK, read from its Dockerfile (one place): Docker runs it from the image,
    Kubernetes from the pod's probes."""
    text = dockerfile.read_text().replace("\\\n", " ")
    found = re.search(r"^HEALTHCHECK\s+(.*?)\s*CMD\s+(\[.*\])\s*$", text, re.M)
    if not found:
        raise ValueError(f"{dockerfile}: no exec-form HEALTHCHECK")
    options = dict(re.findall(r"--([a-z-]+)=(\S+)", found.group(1)))
    seconds = {key: int(value.rstrip("s")) for key, value in options.items() if key != "retries"}
    return Probe(["CMD", *json.loads(found.group(2))], interval_s=seconds.get("interval", 30),
                 timeout_s=seconds.get("timeout", 30), retries=int(options.get("retries", 3)),
                 start_period_s=seconds.get("start-period", 0))


@dataclass
class WorkloadArgs:
    platform: object
    """Where it runs (components/platforms)."""
    prefix: str
    """Project and stack: the built image's name."""
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
    image: WorkloadImage
    """Where its image comes from: built locally (the default), built and pushed to a registry, or given."""
    agent_on_each_node: bool = False
    """The Agent listens on each node's IP (Kubernetes): traces go to the pod's node."""


# What stands for the node's IP in the rendered env until the platform sets the variable from the
# pod's own status (ContainerSpec.node_ip_env).
NODE_IP = "status.hostIP"


def workload_env(args: WorkloadArgs) -> pulumi.Output[dict[str, str]]:
    """The container's non-secret env, from the workload's own renderer (PGPASSWORD goes
    separately, as a secret). Without an agent, tracing is off; with one on each node, its address
    is left to the platform (the node's IP)."""
    def render(host, port, agent_host):
        env = ws.render_env(host=host, port=port, dbname=topology.DATABASE, user=topology.WORKLOAD_ROLE,
                            rate=args.knobs.rate, services=args.knobs.services, scenario=args.knobs.scenario,
                            dd_env=args.dd_env, agent_host=NODE_IP if args.agent_on_each_node else agent_host)
        if args.agent_on_each_node:
            del env[ws.ENV_DD_AGENT_HOST]
        return env
    return dc.rendered(render, args.db_host, args.db_port, args.agent_host)


class Workload(pulumi.ComponentResource):
    container_name: pulumi.Output[str]
    """The workload container (Docker) or Deployment (Kubernetes)."""

    def __init__(self, name: str, args: WorkloadArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("credit-lab:index:Workload", name, None, opts)
        source = args.image
        if source.reference:
            image_fields = dict(image=source.reference, pinned=True)
        else:
            registry = source.registry.rstrip("/")
            image = docker.Image(
                f"{name}-image",
                # Image repositories are lowercase: a stack named `Dev` still builds.
                image_name=f"{registry + '/' if registry else ''}{dc.dns_label(args.prefix)}-workload:{ws.DEFAULT_VERSION}",
                build=docker.DockerBuildArgs(context=BUILD_CONTEXT),  # uses the context's Dockerfile
                skip_push=not registry,
                registry=docker.RegistryArgs(server=registry.split("/")[0], username=source.username,
                                             password=source.password) if registry else None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            # Pushed: the registry's digest (immutable, pullable); local: the image's ID, so that a
            # rebuild with changed code replaces the container (and rolls a pod).
            image_fields = (dict(image=image.repo_digest, pinned=True) if registry else
                            dict(image=image.image_name, image_id=image.repo_digest, pinned=False))
        placed = args.platform.place(self, name, ContainerSpec(
            alias=topology.WORKLOAD_ALIAS, **image_fields,
            env=workload_env(args), secret_env={ws.ENV_PGPASSWORD: args.password},
            probe=image_probe(), probe_in_image=True, user=IMAGE_UID, database_client=True,
            node_ip_env=ws.ENV_DD_AGENT_HOST if args.agent_on_each_node else None,
            # SIGTERM lets in-flight work finish; give it time before the platform kills it.
            stop_signal="SIGTERM", stop_timeout_s=15), opts)
        self.container_name = placed.name
        self.register_outputs({"containerName": self.container_name})
