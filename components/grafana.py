"""Grafana 12 with the Prometheus datasource and the lab's dashboards provisioned from files."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import docker_common as dc, topology
from components.render import grafana as render
from components.render.upload import readable

ADMIN_PASSWORD_ENV = "GF_SECURITY_ADMIN_PASSWORD"


@dataclass
class GrafanaArgs(dc.PublishedContainerArgs):
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


class Grafana(pulumi.ComponentResource):
    container_name: pulumi.Output[str]
    """The Grafana container."""

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Grafana", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        # No data volume on purpose: everything Grafana shows is provisioned from files, and
        # GF_SECURITY_ADMIN_PASSWORD only applies to a fresh data directory, so a replaced
        # container picks up a password changed with `pulumi config set`.
        datasources = dc.rendered(
            lambda url: render.datasources(url, args.scrape_interval, args.prometheus_version), args.prometheus_url)
        container = dc.lab_container(
            self, name, args, topology.GRAFANA_ALIAS, image.image_id, opts, internal_port=topology.GRAFANA_PORT,
            envs=dc.env_list(render.env(), {ADMIN_PASSWORD_ENV: args.admin_password}),
            uploads=dc.uploads(readable({render.DATASOURCES_FILE: datasources, **render.dashboard_files()})),
            healthcheck=dc.healthcheck(render.healthcheck()),
        )
        self.container_name = container.name
        self.register_outputs({"containerName": self.container_name})
