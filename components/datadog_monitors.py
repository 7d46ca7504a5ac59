"""The Datadog half as code: the lab's monitors and dashboard, through an explicit datadog provider.

Declared only with both keys (`ddApiKey` and `ddAppKey`): Datadog's API writes monitors and
dashboards with an application key. Removing `ddAppKey` and running `pulumi up` deletes them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_datadog as datadog

from components import alerts
from components.render import datadog_monitors as render


@dataclass
class DatadogMonitorsArgs:
    api_key: pulumi.Input[str]
    """Datadog API key (a secret)."""
    app_key: pulumi.Input[str]
    """Datadog application key (a secret): the API's writes need it."""
    site: str
    """Datadog site, e.g. datadoghq.eu: the provider's API is https://api.<site>/."""
    app_host: str
    """Host of the site's web app, for the links in messages and on the dashboard."""
    env: str
    """The lab's env tag: every query is scoped to it."""
    stack: str
    """The stack tag (project-stack) the Agent's check puts on the database's metrics."""
    agent_host: str
    """The Agent's host name (DD_HOSTNAME): the host its own service checks report."""


class DatadogMonitors(pulumi.ComponentResource):
    dashboard_url: pulumi.Output[str]
    """The dashboard's address in the Datadog app."""
    monitor_ids: pulumi.Output[dict]
    """Monitor key (the Prometheus alert's name, or service-check) -> Datadog monitor id."""

    def __init__(self, name: str, args: DatadogMonitorsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:DatadogMonitors", name, None, opts)
        # An explicit provider: the keys and site of this stack, never the ambient DD_* env.
        provider = datadog.Provider(f"{name}-provider", api_key=args.api_key, app_key=args.app_key,
                                    api_url=api_url(args.site), validate="true",
                                    opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        ids = {}
        for spec in render.monitors(args.env, args.stack, args.app_host, args.agent_host):
            monitor = datadog.Monitor(
                f"{name}-{spec.key}", name=spec.name, type=spec.type, query=spec.query, message=spec.message,
                monitor_thresholds=datadog.MonitorMonitorThresholdsArgs(**_thresholds(spec.thresholds)),
                tags=list(spec.tags), include_tags=True, notify_no_data=False, require_full_window=False,
                opts=child)
            ids[spec.key] = monitor.id
        dashboard = datadog.DashboardJson(
            f"{name}-dashboard", dashboard=json.dumps(render.dashboard(args.env, args.stack, args.app_host)),
            opts=child)
        self.dashboard_url = dashboard.url.apply(lambda url: absolute_url(args.app_host, url))
        self.monitor_ids = pulumi.Output.all(**ids)
        self.register_outputs({"dashboardUrl": self.dashboard_url, "monitorIds": self.monitor_ids})


def api_url(site: str) -> str:
    """The provider's API address for a Datadog site (pulumi-datadog's Provider.api_url doc:
    https://api.datadoghq.eu/, https://api.us5.datadoghq.com/, https://api.ddog-gov.com/ ...)."""
    return f"https://api.{site}/"


def absolute_url(app_host: str, url: str | None) -> str:
    """The provider gives the dashboard's path in the app; make it a link."""
    url = url or ""
    return url if url.startswith("https://") else f"https://{app_host}{url}"


def _thresholds(values: dict) -> dict:
    """monitor_thresholds as strings, the form the provider stores, written as the query writes
    them (alerts.number): the API rejects a critical threshold that differs from the query's number."""
    return {key: alerts.number(value) for key, value in values.items()}
