"""Prometheus 2.53: scrapes the exporter and itself, evaluates the lab's alerts and rules."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import prometheus as render


@dataclass
class PrometheusArgs:
    prefix: str
    """Prefix of container and volume names."""
    image: str
    """Prometheus image with an exact tag."""
    network_name: pulumi.Input[str]
    """The lab network, joined under the alias `prometheus`."""
    scrape_interval: str
    """Scrape and rule evaluation interval (a Prometheus duration)."""
    bind_address: str
    """Host address the port is published on."""
    host_port: int
    """Host port for Prometheus's UI and API."""
    depends_on: list[pulumi.Resource]
    """The exporter container."""


class Prometheus(pulumi.ComponentResource):
    container: docker.Container
    """The Prometheus container."""

    def __init__(self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Prometheus", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        # The TSDB on a named volume: a config change replaces the container, not the history.
        volume = docker.Volume(f"{name}-data", name=f"{args.prefix}-prometheus-data",
                               opts=pulumi.ResourceOptions(parent=self))
        files = {render.CONFIG_PATH: render.config(args.scrape_interval,
                                                   f"{topology.EXPORTER_ALIAS}:{topology.EXPORTER_PORT}")}
        files.update({f"{render.RULES_DIR}/{file_name}": content
                      for file_name, content in render.rule_files().items()})
        self.container = docker.Container(
            f"{name}-container",
            name=f"{args.prefix}-prometheus",
            image=image.image_id,
            command=render.args(),
            uploads=dc.uploads(files),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=render.STORAGE_PATH)],
            networks_advanced=dc.attach(args.network_name, topology.PROMETHEUS_ALIAS),
            ports=dc.publish(topology.PROMETHEUS_PORT, args.host_port, args.bind_address),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=render.healthcheck(),
                interval="10s", timeout="5s", retries=3),
            memory=dc.MEMORY_MB["prometheus"],
            restart=dc.RESTART_POLICY,
            opts=dc.container_options(self, args.depends_on),
        )
        self.register_outputs({"containerName": self.container.name})
