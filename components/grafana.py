"""Grafana 12 with the Prometheus datasource and the lab's dashboards provisioned from files."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_common as dc, topology
from components.render import grafana as render
from components.render.upload import readable

ADMIN_PASSWORD_ENV = "GF_SECURITY_ADMIN_PASSWORD"


@dataclass
class GrafanaArgs(dc.PublishedContainerArgs):
    scrape_interval: str
    """Prometheus's scrape interval: the datasource's minimum step."""
    admin_password: pulumi.Output[str]
    """Password of Grafana's `admin` user (secret)."""


class Grafana(pulumi.ComponentResource):
    container: docker.Container
    """The Grafana container."""

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Grafana", name, None, opts)
        image = dc.pinned_image(f"{name}-image", args.image, self)
        prometheus_url = f"http://{topology.PROMETHEUS_ALIAS}:{topology.PROMETHEUS_PORT}"
        # No data volume on purpose: everything Grafana shows is provisioned from files, and
        # GF_SECURITY_ADMIN_PASSWORD only applies to a fresh data directory, so a replaced
        # container picks up a password changed with `pulumi config set`.
        self.container = dc.lab_container(
            self, name, args, topology.GRAFANA_ALIAS, image.image_id, internal_port=topology.GRAFANA_PORT,
            envs=dc.env_list(render.env(), {ADMIN_PASSWORD_ENV: args.admin_password}),
            uploads=dc.uploads(readable(render.files(prometheus_url, args.scrape_interval))),
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=render.healthcheck(),
                interval="10s", timeout="5s", retries=3),
        )
        self.register_outputs({"containerName": self.container.name})
