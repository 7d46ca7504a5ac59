"""What every container of the lab shares: pinned images, naming, networking, env, limits."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from components import topology
from components.render.upload import Upload

# Memory limit per container (by its alias), in MB: the whole lab fits a laptop (README states the sum,
# and the peaks measured against these limits: bench/bench_up.py, test_real_lab_faults.py).
MEMORY_MB = {
    topology.POSTGRES_ALIAS: 1024,
    topology.AGENT_ALIAS: 768,
    topology.EXPORTER_ALIAS: 64,   # peaked at 11 MB in 5 minutes at workloadRate=max: 128 was 12x that
    topology.PROMETHEUS_ALIAS: 512,
    topology.GRAFANA_ALIAS: 384,
    topology.WORKLOAD_ALIAS: 512,
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


# How often Docker probes a service's health, and how long it gives each probe (seconds); PostgreSQL
# has its own.
HEALTHCHECK_INTERVAL_S, HEALTHCHECK_TIMEOUT_S, HEALTHCHECK_RETRIES = 10, 5, 3


def go_duration(seconds: int) -> str:
    """Whole seconds as Go's time.Duration.String() writes them: "5s", "1m30s", "30m0s", "1h0m0s".
    The docker provider reads a container's healthcheck back from Docker in this form after every
    create and refresh (kreuzwerker/terraform-provider-docker v4.5.0,
    resource_docker_container_funcs.go 960-969: `Interval.String()`), so declaring it in any other
    form ("1800s") plans an update after every `up`."""
    if seconds < 0 or seconds != int(seconds):
        raise ValueError(f"go_duration takes whole non-negative seconds, got {seconds!r}")
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def rendered(render: Callable, *inputs: pulumi.Input) -> pulumi.Output:
    """`render(*values)` once the inputs (other components' outputs) are known: renderers stay
    plain functions of plain values."""
    return pulumi.Output.all(*inputs).apply(lambda values: render(*values))


def env_list(plain: pulumi.Input[Mapping[str, str]],
             secret: Optional[Mapping[str, pulumi.Input[str]]] = None) -> pulumi.Output[list[str]]:
    """Docker's KEY=VALUE list. With a secret value the whole `envs` property is a secret, so it is
    stored encrypted in the state."""
    entries = pulumi.Output.from_input(plain).apply(
        lambda values: [f"{key}={value}" for key, value in sorted(values.items())])
    secrets = [pulumi.Output.secret(pulumi.Output.concat(key, "=", value))
               for key, value in sorted((secret or {}).items())]
    return pulumi.Output.all(entries, *secrets).apply(lambda parts: [*parts[0], *parts[1:]])


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


def healthcheck(tests: list[str], interval_s: int = HEALTHCHECK_INTERVAL_S, timeout_s: int = HEALTHCHECK_TIMEOUT_S,
                retries: int = HEALTHCHECK_RETRIES, start_period_s: int = 0) -> docker.ContainerHealthcheckArgs:
    """A Docker healthcheck, every duration declared in the form the provider reads back (go_duration),
    start_interval included (Docker 25's field: older engines ignore it and report 0s)."""
    return docker.ContainerHealthcheckArgs(
        tests=tests, interval=go_duration(interval_s), timeout=go_duration(timeout_s), retries=retries,
        start_period=go_duration(start_period_s), start_interval=go_duration(0))


# Every change to a container replaces it, where the provider would update some in place, for two
# reasons found on the real provider (issue 25):
# - its Update sends Docker only the resources and the restart policy
#   (resource_docker_container_funcs.go 991-1077): a new healthcheck would be recorded in the state and
#   never reach the running container;
# - a create that fails after Docker made the container (a host port another process holds) leaves it
#   in the state with an init error, and where the provider's Diff then finds nothing to replace (the
#   PostgreSQL container, which declares its command and entrypoint) the engine's follow-up update
#   leaves it created and never started. "*" is what makes the engine replace a resource with init
#   errors (pulumi pkg/resource/deploy/step_generator.go applyReplaceOnChanges, initErrorSpecialKey).
REPLACE_ON_CHANGES = ["*"]


def container_options(parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (),
                      timeouts: Optional[pulumi.CustomTimeouts] = None) -> pulumi.ResourceOptions:
    """Named containers must be deleted before their replacement is created (same name, same
    host port); most Container fields force a replacement (pulumi-docker #1356), and so do the
    ones the provider's update would not apply (REPLACE_ON_CHANGES)."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), delete_before_replace=True,
                                  replace_on_changes=REPLACE_ON_CHANGES, custom_timeouts=timeouts)


def depends_on(opts: Optional[pulumi.ResourceOptions]) -> list[pulumi.Resource]:
    """What a component was told to depend on. Children do not inherit a component's `depends_on`
    (the Python SDK's Resource.__init__ infers only protect and providers from the parent), so its container gets
    them itself; a component in the list stands for all its children (pulumi runtime/rpc.py,
    `_add_dependency`)."""
    found = opts.depends_on if opts is not None and opts.depends_on is not None else []
    return list(found) if isinstance(found, (list, tuple)) else [found]


def labels(values: Mapping[str, str]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(values.items())]


@dataclass
class ContainerArgs:
    """What every lab container is given. What must exist first comes as the component's
    `ResourceOptions(depends_on=[component, ...])`."""
    prefix: str
    """Prefix of container and volume names (project-stack): two stacks can share a host."""
    network_name: pulumi.Input[str]
    """The lab network to join under the container's alias."""


@dataclass
class PublishedContainerArgs(ContainerArgs):
    """A container with a port published on the host."""
    bind_address: str
    """Host address the port is published on."""
    host_port: int
    """Host port."""


def lab_container(parent: pulumi.Resource, name: str, args: ContainerArgs, alias: str,
                  image: pulumi.Input[str], opts: Optional[pulumi.ResourceOptions],
                  internal_port: Optional[int] = None, timeouts: Optional[pulumi.CustomTimeouts] = None,
                  **fields) -> docker.Container:
    """A lab container: named `<prefix>-<alias>`, on the lab network under `alias`, with its
    memory limit and no swap, restart policy and rotated log, replaced safely, after what the component
    (`opts`) depends on, and (for PublishedContainerArgs) its `internal_port` published on the bind
    address. `fields` are the container's own settings."""
    if isinstance(args, PublishedContainerArgs) and internal_port is not None:
        fields["ports"] = publish(internal_port, args.host_port, args.bind_address)
    return docker.Container(
        f"{name}-container",
        name=container_name(args.prefix, alias),
        image=image,
        networks_advanced=attach(args.network_name, alias),
        memory=MEMORY_MB[alias],
        # No swap: a database lab that swaps shows disk waits that are not the database's. Declared,
        # because Docker otherwise gives 2 x memory, which the provider reads back after create
        # (funcs.go 940-944) and the next `up` would plan to remove.
        memory_swap=MEMORY_MB[alias],
        restart=RESTART_POLICY,
        log_driver=LOG_DRIVER,
        log_opts={"max-size": f"{LOG_MAX_SIZE_MB}m", "max-file": str(LOG_MAX_FILES)},
        opts=container_options(parent, depends_on(opts), timeouts),
        **fields,
    )
