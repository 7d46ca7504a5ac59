"""Grafana 12 with the Prometheus datasource and the lab's dashboards provisioned from files."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components import docker_common as dc, topology
from components.container import ContainerSpec, Probe
from components.render import grafana as render
from components.render.upload import readable

ADMIN_PASSWORD_ENV = "GF_SECURITY_ADMIN_PASSWORD"
# The image's user (grafana Dockerfile: ARG GF_UID=472, GF_GID=0).
IMAGE_UID = 472


@dataclass
class GrafanaArgs:
    platform: object
    """Where it runs (components/platforms)."""
    image: str
    """Grafana 12 image reference (components/versions.py)."""
    prometheus_url: pulumi.Input[str]
    """Where Grafana's datasource queries Prometheus (Prometheus.url)."""
    prometheus_version: str
    """The Prometheus version the stack runs (from its image tag), declared on the datasource."""
    scrape_interval: str
    """Prometheus's scrape interval: the datasource's minimum step."""
    admin_password: pulumi.Output[str]
    """Password of Grafana's `admin` user (secret)."""
    host_port: int
    """Where the user opens it."""


class Grafana(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    """Where the user reaches it from their machine ("host:port")."""
    container_name: pulumi.Output[str]
    """The Grafana container (Docker) or Deployment (Kubernetes)."""

    def __init__(self, name: str, args: GrafanaArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("credit-lab:index:Grafana", name, None, opts)
        # No data volume on purpose: everything Grafana shows is provisioned from files, and
        # GF_SECURITY_ADMIN_PASSWORD only applies to a fresh data directory, so a replaced
        # container picks up a password changed with `pulumi config set`.
        datasources = dc.rendered(
            lambda url: render.datasources(url, args.scrape_interval, args.prometheus_version), args.prometheus_url)
        placed = args.platform.place(self, name, ContainerSpec(
            alias=topology.GRAFANA_ALIAS, image=args.image, env=render.env(),
            secret_env={ADMIN_PASSWORD_ENV: args.admin_password},
            files=readable({render.DATASOURCES_FILE: datasources, **render.dashboard_files()}),
            probe=Probe(render.healthcheck()), port=topology.GRAFANA_PORT, host_port=args.host_port,
            user=IMAGE_UID), opts)
        self.container_name = placed.name
        self.endpoint = placed.endpoint
        self.register_outputs({"containerName": self.container_name})
