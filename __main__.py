"""Credit Lab: PostgreSQL 15 watched by Datadog DBM and by postgres_exporter, Prometheus and
Grafana, under a traced credit workload. Reads config once, places the lab on the stack's platform
(Docker or Kubernetes), builds the components along README's diagram (each hands the next the
outputs it needs and is depended on whole), exports the outputs."""
import pulumi
from pulumi import ResourceOptions

from components import settings as lab_settings, topology
from components.credentials import Credentials, CredentialsArgs
from components.datadog_agent import DatadogAgent, DatadogAgentArgs, agent_hostname
from components.datadog_monitors import DatadogMonitors, DatadogMonitorsArgs
from components.grafana import Grafana, GrafanaArgs
from components.namespace import Namespace, NamespaceArgs
from components.network import Network, NetworkArgs
from components.platforms.docker import DockerPlatform
from components.platforms.kubernetes import KubernetesPlatform, KubernetesSettings
from components.docker_common import container_name, dns_label
from components.postgres import DatadogCheck, Postgres, PostgresArgs
from components.postgres_exporter import PostgresExporter, PostgresExporterArgs
from components.prometheus import Prometheus, PrometheusArgs
from components.render import datadog as datadog_render
from components.workload import Workload, WorkloadArgs

settings = lab_settings.load()
prefix, bind, ports, images = settings.prefix, settings.bind_address, settings.ports, settings.images

# Where the containers run: a private Docker network, or the stack's Kubernetes namespace.
if settings.platform == "docker":
    network = Network("network", NetworkArgs(name=f"{prefix}-net"))
    platform = DockerPlatform(prefix=prefix, network_name=network.network_name, bind_address=bind,
                              browse_host=settings.browse_host)
else:
    k = settings.kubernetes
    namespace = Namespace("namespace", NamespaceArgs(name=k.namespace))
    platform = KubernetesPlatform(KubernetesSettings(
        namespace=k.namespace, storage_class=k.storage_class, service_type=k.service_type,
        node_address=k.node_address, local_host=settings.browse_host), namespace=namespace.name)
credentials = Credentials("credentials", CredentialsArgs(secrets=settings.secrets))

postgres = Postgres("postgres", PostgresArgs(
    platform=platform, image=images.postgres.reference, passwords=credentials.by_role(),
    seed_customers=settings.seed_customers, host_port=ports.postgres,
    # On Kubernetes the Agent finds its DBM check on the database's pod (Autodiscovery annotations).
    datadog=DatadogCheck(env=settings.dd_env, stack=datadog_render.stack_tag(prefix),
                         reported_hostname=dns_label(container_name(prefix, topology.POSTGRES_ALIAS)))
    if settings.datadog_enabled and settings.platform == "kubernetes" else None))

# Datadog: the Agent watches the database (DBM) and takes the workload's traces.
agent = None
if settings.datadog_enabled:
    agent = DatadogAgent("datadog-agent", DatadogAgentArgs(
        platform=platform, prefix=prefix, image=images.datadog_agent.reference,
        db_host=postgres.host, db_port=postgres.port, db_container_name=postgres.container_name,
        api_key=settings.secrets.dd_api_key, site=settings.dd_site, env=settings.dd_env,
        datadog_password=credentials.datadog), opts=ResourceOptions(depends_on=[postgres]))

# Open source: postgres_exporter -> Prometheus -> Grafana.
exporter = PostgresExporter("postgres-exporter", PostgresExporterArgs(
    platform=platform, image=images.exporter.reference, db_host=postgres.host, db_port=postgres.port,
    password=credentials.exporter, host_port=ports.exporter), opts=ResourceOptions(depends_on=[postgres]))

prometheus = Prometheus("prometheus", PrometheusArgs(
    platform=platform, image=images.prometheus.reference, exporter_host=exporter.host,
    exporter_port=exporter.port, scrape_interval=settings.scrape_interval, host_port=ports.prometheus),
    opts=ResourceOptions(depends_on=[exporter]))

grafana = Grafana("grafana", GrafanaArgs(
    platform=platform, image=images.grafana.reference, prometheus_url=prometheus.url,
    prometheus_version=images.prometheus.text, scrape_interval=settings.scrape_interval,
    admin_password=credentials.grafana_admin, host_port=ports.grafana), opts=ResourceOptions(depends_on=[prometheus]))

# The workload: traced SQL against the database, traces to the Agent when there is one.
workload = Workload("workload", WorkloadArgs(
    platform=platform, prefix=prefix, db_host=postgres.host, db_port=postgres.port, password=credentials.workload,
    knobs=settings.workload, dd_env=settings.dd_env, agent_host=agent.host if agent else None,
    agent_on_each_node=bool(agent and agent.on_each_node), image=settings.workload_image),
    opts=ResourceOptions(depends_on=[postgres, *([agent] if agent else [])]))

pulumi.export("grafanaUrl", pulumi.Output.concat("http://", grafana.endpoint))
pulumi.export("prometheusUrl", pulumi.Output.concat("http://", prometheus.endpoint))
pulumi.export("exporterUrl", pulumi.Output.concat("http://", exporter.endpoint, "/metrics"))
pulumi.export("postgresDsn", pulumi.Output.secret(pulumi.Output.concat(
    "postgresql://", topology.SUPERUSER, ":", credentials.postgres, "@", postgres.endpoint, "/", topology.DATABASE)))
pulumi.export("grafanaAdminPassword", credentials.grafana_admin)
if settings.platform == "docker":
    pulumi.export("networkName", network.network_name)
else:
    pulumi.export("namespace", namespace.name)
    if platform.port_forwards:
        pulumi.export("portForwardCommands", platform.port_forwards)
if agent:
    pulumi.export("datadogDbmUrl", datadog_render.dbm_url(settings.dd_app_host, settings.dd_env))

# With an application key too: the Datadog half's monitors (same thresholds as the Prometheus
# rules, components/alerts.py) and the lab's dashboard.
if settings.datadog_monitors_enabled:
    monitors = DatadogMonitors("datadog-monitors", DatadogMonitorsArgs(
        api_key=settings.secrets.dd_api_key, app_key=settings.secrets.dd_app_key, site=settings.dd_site,
        app_host=settings.dd_app_host, env=settings.dd_env, stack=datadog_render.stack_tag(prefix),
        agent_host=agent_hostname(prefix)))
    pulumi.export("datadogDashboardUrl", monitors.dashboard_url)
    pulumi.export("datadogMonitorIds", monitors.monitor_ids)
