"""What every container of the lab shares: pinned images, naming, networking, env, limits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Protocol, Sequence

import pulumi
import pulumi_docker as docker

# Memory limit per container, in MB: the whole lab fits a laptop (README states the sum).
MEMORY_MB = {
    "postgres": 1024,
    "datadog-agent": 768,
    "postgres-exporter": 128,
    "prometheus": 512,
    "grafana": 384,
    "workload": 512,
}
# Containers come back after a Docker restart, but stay down when the user stops them.
RESTART_POLICY = "unless-stopped"


def container_name(prefix: str, alias: str) -> str:
    """A lab container's name: project, stack and its network alias."""
    return f"{prefix}-{alias}"


def total_memory_mb() -> int:
    return sum(MEMORY_MB.values())


def pinned_image(name: str, reference: str, parent: pulumi.Resource) -> docker.RemoteImage:
    """Pull `reference` (an exact tag) and keep it on `pulumi destroy` so the next `up` is fast."""
    return docker.RemoteImage(name, name=reference, keep_locally=True,
                              opts=pulumi.ResourceOptions(parent=parent))


def env_list(plain: Mapping[str, str], secret: Optional[Mapping[str, pulumi.Input[str]]] = None
             ) -> list[pulumi.Input[str]]:
    """Docker's KEY=VALUE list. Secret values stay Outputs marked secret, so the whole `envs`
    property is stored encrypted in the state."""
    entries: list[pulumi.Input[str]] = [f"{key}={value}" for key, value in sorted(plain.items())]
    for key, value in sorted((secret or {}).items()):
        entries.append(pulumi.Output.secret(pulumi.Output.concat(key, "=", value)))
    return entries


def attach(network_name: pulumi.Input[str], alias: str) -> list[docker.ContainerNetworksAdvancedArgs]:
    """Join the lab network under a fixed DNS alias that the other containers use."""
    return [docker.ContainerNetworksAdvancedArgs(name=network_name, aliases=[alias])]


def publish(internal: int, external: int, bind_address: str) -> list[docker.ContainerPortArgs]:
    """Publish one port on the host, bound to `bind_address` only."""
    return [docker.ContainerPortArgs(internal=internal, external=external, ip=bind_address, protocol="tcp")]


def uploads(files: Mapping[str, str], executable: Sequence[str] = ()) -> list[docker.ContainerUploadArgs]:
    """Files written into the container before it starts (path -> content)."""
    return [docker.ContainerUploadArgs(file=path, content=content, executable=path in executable)
            for path, content in sorted(files.items())]


def container_options(parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
                      ) -> pulumi.ResourceOptions:
    """Named containers must be deleted before their replacement is created (same name, same
    host port); most Container fields force a replacement (pulumi-docker #1356)."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), delete_before_replace=True)


def labels(values: Mapping[str, str]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(values.items())]


class WorkloadLike(Protocol):
    """Args of a container built here rather than pulled (no image reference)."""
    prefix: str
    network_name: pulumi.Input[str]
    depends_on: list[pulumi.Resource]


@dataclass
class ContainerArgs:
    """What every lab container is given."""
    prefix: str
    """Prefix of container and volume names (project-stack): two stacks can share a host."""
    image: str
    """Image reference with an exact tag."""
    network_name: pulumi.Input[str]
    """The lab network to join under the container's alias."""
    depends_on: list[pulumi.Resource]
    """Resources that must exist (healthy, where they have a healthcheck and are waited on) first."""


@dataclass
class PublishedContainerArgs(ContainerArgs):
    """A container with a port published on the host."""
    bind_address: str
    """Host address the port is published on."""
    host_port: int
    """Host port."""


def lab_container(parent: pulumi.Resource, name: str, args: "ContainerArgs | WorkloadLike", alias: str,
                  image: pulumi.Input[str], internal_port: Optional[int] = None,
                  **fields) -> docker.Container:
    """A lab container: named `<prefix>-<alias>`, on the lab network under `alias`, with its
    memory limit and restart policy, replaced safely, and (for PublishedContainerArgs) its
    `internal_port` published on the bind address. `fields` are the container's own settings."""
    if isinstance(args, PublishedContainerArgs) and internal_port is not None:
        fields["ports"] = publish(internal_port, args.host_port, args.bind_address)
    return docker.Container(
        f"{name}-container",
        name=container_name(args.prefix, alias),
        image=image,
        networks_advanced=attach(args.network_name, alias),
        memory=MEMORY_MB[alias],
        restart=RESTART_POLICY,
        opts=container_options(parent, args.depends_on),
        **fields,
    )
