"""Prometheus 2.53: scrapes the exporter and itself, evaluates the lab's alerts and rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components import docker_common as dc, topology
from components.container import ContainerSpec, Data, Probe
from components.render import prometheus as render
from components.render.upload import readable

# The image's USER nobody (prometheus Dockerfile at v2.53.3: busybox's uid 65534).
IMAGE_UID = 65534


@dataclass
class PrometheusArgs:
    platform: object
    """Where it runs (components/platforms)."""
    image: str
    """Prometheus 2.53 image reference (components/versions.py)."""
    exporter_host: pulumi.Input[str]
    """The exporter's address on the lab network (PostgresExporter.host)."""
    exporter_port: pulumi.Input[int]
    """Its /metrics port there (PostgresExporter.port)."""
    scrape_interval: str
    """Scrape and rule evaluation interval (a Prometheus duration)."""
    host_port: int
    """Where the user reaches its UI and API."""


class Prometheus(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """Where Grafana queries it: http://<name>:<port> on the lab network."""
    endpoint: pulumi.Output[str]
    """Where the user reaches it from their machine ("host:port")."""
    container_name: pulumi.Output[str]
    """The Prometheus container (Docker) or Deployment (Kubernetes)."""

    def __init__(self, name: str, args: PrometheusArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("credit-lab:index:Prometheus", name, None, opts)
        files = {render.CONFIG_PATH: dc.rendered(
            lambda host, port: render.config(args.scrape_interval, f"{host}:{port}"),
            args.exporter_host, args.exporter_port)}
        files.update({f"{render.RULES_DIR}/{file_name}": content
                      for file_name, content in render.rule_files().items()})
        placed = args.platform.place(self, name, ContainerSpec(
            alias=topology.PROMETHEUS_ALIAS, image=args.image, command=render.args(), files=readable(files),
            # The TSDB on persistent data: a config change replaces the container, not the history.
            data=Data("prometheus-data", render.STORAGE_PATH),
            probe=Probe(render.healthcheck()), port=topology.PROMETHEUS_PORT, host_port=args.host_port,
            user=IMAGE_UID), opts)
        self.url = pulumi.Output.from_input(f"http://{topology.PROMETHEUS_ALIAS}:{topology.PROMETHEUS_PORT}")
        self.container_name = placed.name
        self.endpoint = placed.endpoint
        self.register_outputs({"url": self.url, "containerName": self.container_name})
