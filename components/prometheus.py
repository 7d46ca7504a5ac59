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
    scrape_interval: str
    """Scrape and rule evaluation interval (a Prometheus duration)."""


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
        self.container = dc.lab_container(
            self, name, args, topology.PROMETHEUS_ALIAS, image.image_id, internal_port=topology.PROMETHEUS_PORT,
            command=render.args(),
            uploads=dc.uploads(readable(files)),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=render.STORAGE_PATH)],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=render.healthcheck(),
                interval="10s", timeout="5s", retries=3),
        )
        self.register_outputs({"containerName": self.container.name})
