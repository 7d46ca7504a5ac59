"""Prometheus 2.53: scrapes the exporter and itself, evaluates the lab's alerts and rules."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import prometheus as render
from components.render.upload import readable


@dataclass
class PrometheusArgs(dc.PublishedContainerArgs):
    image: str
    """Prometheus 2.53 image reference (components/versions.py)."""
    exporter_host: pulumi.Input[str]
    """The exporter's address on the lab network (PostgresExporter.host)."""
    exporter_port: pulumi.Input[int]
    """Its /metrics port there (PostgresExporter.port)."""
    scrape_interval: str
    """Scrape and rule evaluation interval (a Prometheus duration)."""


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """Where Grafana queries it: http://<alias>:<port> on the lab network."""
    container_name: pulumi.Output[str]
    """The Prometheus container."""

    def __init__(self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Prometheus", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        # The TSDB on a named volume: a config change replaces the container, not the history.
        volume = docker.Volume(f"{name}-data", name=f"{args.prefix}-prometheus-data",
                               opts=pulumi.ResourceOptions(parent=self))
        files = {render.CONFIG_PATH: dc.rendered(
            lambda host, port: render.config(args.scrape_interval, f"{host}:{port}"),
            args.exporter_host, args.exporter_port)}
        files.update({f"{render.RULES_DIR}/{file_name}": content
                      for file_name, content in render.rule_files().items()})
        container = dc.lab_container(
            self, name, args, topology.PROMETHEUS_ALIAS, image.image_id, opts,
            internal_port=topology.PROMETHEUS_PORT,
            command=render.args(),
            uploads=dc.uploads(readable(files)),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=render.STORAGE_PATH)],
            healthcheck=dc.healthcheck(render.healthcheck()),
        )
        self.url = pulumi.Output.from_input(f"http://{topology.PROMETHEUS_ALIAS}:{topology.PROMETHEUS_PORT}")
        self.container_name = container.name
        self.register_outputs({"url": self.url, "containerName": self.container_name})
