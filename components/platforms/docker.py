"""The Docker platform: each ContainerSpec becomes a container on the lab's bridge network under its
alias, from an image pulled once and kept, with its data on a named volume (components/docker_common.py
holds what every container shares)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_docker as docker

from components import docker_common as dc
from components.container import ContainerSpec
from components.platforms import Placed


@dataclass
class DockerPlatform:
    prefix: str
    """Prefix of container and volume names (project-stack): two stacks can share a host."""
    network_name: pulumi.Input[str]
    """The lab network every container joins."""
    bind_address: str
    """Host address published ports bind to."""
    browse_host: str
    """How the user's machine names that address in a URL (localhost for 0.0.0.0)."""

    def place(self, parent: pulumi.Resource, name: str, spec: ContainerSpec,
              opts: Optional[pulumi.ResourceOptions]) -> Placed:
        if spec.pinned:
            image = dc.pinned_image(f"{name}-image", spec.image, parent).image_id
        else:
            image = spec.image_id if spec.image_id is not None else spec.image
        fields: dict = {}
        volume = None
        if spec.entrypoint is not None:
            fields["entrypoints"] = list(spec.entrypoint)
        if spec.command is not None:
            fields["command"] = list(spec.command)
        if spec.secret_env or not (isinstance(spec.env, Mapping) and not spec.env):
            fields["envs"] = dc.env_list(spec.env, spec.secret_env)
        if spec.files:
            fields["uploads"] = dc.uploads(spec.files)
        if spec.data is not None:
            volume = docker.Volume(f"{name}-data", name=f"{self.prefix}-{spec.data.name}",
                                   opts=pulumi.ResourceOptions(parent=parent))
            fields["volumes"] = [docker.ContainerVolumeArgs(volume_name=volume.name, container_path=spec.data.path)]
        if spec.probe is not None and not spec.probe_in_image:
            probe = spec.probe
            fields["healthcheck"] = dc.healthcheck(list(probe.test), probe.interval_s, probe.timeout_s, probe.retries,
                                                   probe.start_period_s)
        if spec.wait_s is not None:
            fields.update(wait=True, wait_timeout=spec.wait_s)
        if spec.shm_mb is not None:
            # Parallel query workers share memory through /dev/shm; Docker's 64 MB is too small.
            fields["shm_size"] = spec.shm_mb
        if spec.labels:
            fields["labels"] = dc.labels(spec.labels)
        if spec.stop_signal is not None:
            fields["stop_signal"] = spec.stop_signal
        if spec.stop_timeout_s is not None:
            fields["stop_timeout"] = spec.stop_timeout_s
        timeouts = None
        if spec.create_timeout_s is not None:
            timeout = f"{-(-spec.create_timeout_s // 60)}m"
            timeouts = pulumi.CustomTimeouts(create=timeout, update=timeout)
        if spec.host_port is not None:
            args = dc.PublishedContainerArgs(prefix=self.prefix, network_name=self.network_name,
                                             bind_address=self.bind_address, host_port=spec.host_port)
        else:
            args = dc.ContainerArgs(prefix=self.prefix, network_name=self.network_name)
        container = dc.lab_container(parent, name, args, spec.alias, image, opts, internal_port=spec.port,
                                     timeouts=timeouts, **fields)
        endpoint = None if spec.host_port is None else pulumi.Output.from_input(f"{self.browse_host}:{spec.host_port}")
        return Placed(name=container.name, data_name=volume.name if volume is not None else None, endpoint=endpoint)
