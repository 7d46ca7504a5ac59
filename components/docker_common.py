"""What every container of the lab shares: pinned images, naming, networking, env, limits."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Protocol, Sequence

import pulumi
import pulumi_docker as docker

from components.render.upload import Upload

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


# Every container logs through json-file, rotated: Docker's json-file driver keeps everything by
# default (max-size -1), and PostgreSQL logs every statement over 100 ms and every auto_explain
# plan. json-file (not `local`) because the Datadog Agent tails these files.
LOG_DRIVER = "json-file"
LOG_MAX_SIZE_MB = 10
LOG_MAX_FILES = 3


def container_name(prefix: str, alias: str) -> str:
    """A lab container's name: project, stack and its network alias. Docker allows
    [a-zA-Z0-9][a-zA-Z0-9_.-]* here, and so does a Pulumi stack name: any stack fits."""
    return f"{prefix}-{alias}"


def dns_label(name: str) -> str:
    """`name` as one lowercase DNS label ([a-z0-9-], at most 63 characters): what an image
    repository and the Datadog Agent's host name accept, where a stack name may carry capitals,
    `_` or `.`. Unchanged when it already fits; otherwise a hash of the original keeps two stacks
    (`Dev`, `dev`) apart."""
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if label == name and len(label) <= 63:
        return label
    return f"{label[:56].rstrip('-')}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def log_limit_mb() -> int:
    """The most log one container keeps on the Docker host."""
    return LOG_MAX_SIZE_MB * LOG_MAX_FILES


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


def uploads(files: Iterable[Upload]) -> list[docker.ContainerUploadArgs]:
    """Files written into the container before it starts, each with its mode given explicitly
    (`permissions` takes precedence over `executable` in pulumi-docker 5.2)."""
    return [docker.ContainerUploadArgs(file=u.path, content=u.content, permissions=f"{u.mode:04o}")
            for u in sorted(files, key=lambda u: u.path)]


def container_options(parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (),
                      timeouts: Optional[pulumi.CustomTimeouts] = None) -> pulumi.ResourceOptions:
    """Named containers must be deleted before their replacement is created (same name, same
    host port); most Container fields force a replacement (pulumi-docker #1356)."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), delete_before_replace=True,
                                  custom_timeouts=timeouts)


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
                  timeouts: Optional[pulumi.CustomTimeouts] = None, **fields) -> docker.Container:
    """A lab container: named `<prefix>-<alias>`, on the lab network under `alias`, with its
    memory limit, restart policy and rotated log, replaced safely, and (for PublishedContainerArgs)
    its `internal_port` published on the bind address. `fields` are the container's own settings."""
    if isinstance(args, PublishedContainerArgs) and internal_port is not None:
        fields["ports"] = publish(internal_port, args.host_port, args.bind_address)
    return docker.Container(
        f"{name}-container",
        name=container_name(args.prefix, alias),
        image=image,
        networks_advanced=attach(args.network_name, alias),
        memory=MEMORY_MB[alias],
        restart=RESTART_POLICY,
        log_driver=LOG_DRIVER,
        log_opts={"max-size": f"{LOG_MAX_SIZE_MB}m", "max-file": str(LOG_MAX_FILES)},
        opts=container_options(parent, args.depends_on, timeouts),
        **fields,
    )
