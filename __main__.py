"""Credit Lab: PostgreSQL 15 watched by Datadog DBM and by postgres_exporter, Prometheus and
Grafana, under a traced credit workload. Reads config once, builds the components in order,
exports the outputs."""
import pulumi

from components import settings as lab_settings, topology
from components.credentials import Credentials, CredentialsArgs
from components.datadog_agent import DatadogAgent, DatadogAgentArgs
from components.grafana import Grafana, GrafanaArgs
from components.network import Network, NetworkArgs
from components.postgres import Postgres, PostgresArgs
from components.postgres_exporter import PostgresExporter, PostgresExporterArgs
from components.prometheus import Prometheus, PrometheusArgs
from components.render import datadog as datadog_render
from components.workload import Workload, WorkloadArgs

settings = lab_settings.load()
prefix, bind, ports = settings.prefix, settings.bind_address, settings.ports

network = Network("network", NetworkArgs(name=f"{prefix}-net"))
credentials = Credentials("credentials", CredentialsArgs(secrets=settings.secrets))

postgres = Postgres("postgres", PostgresArgs(
    prefix=prefix, image=settings.images.postgres, network_name=network.network_name,
    passwords=credentials.by_role(), seed_customers=settings.seed_customers,
    bind_address=bind, host_port=ports.postgres, depends_on=[]))

agent = None
if settings.datadog_enabled:
    agent = DatadogAgent("datadog-agent", DatadogAgentArgs(
        prefix=prefix, image=settings.images.datadog_agent, network_name=network.network_name,
        api_key=settings.secrets.dd_api_key, site=settings.dd_site, env=settings.dd_env,
        datadog_password=credentials.datadog, depends_on=[postgres.container]))

exporter = PostgresExporter("postgres-exporter", PostgresExporterArgs(
    prefix=prefix, image=settings.images.exporter, network_name=network.network_name,
    password=credentials.exporter, bind_address=bind, host_port=ports.exporter,
    depends_on=[postgres.container]))

prometheus = Prometheus("prometheus", PrometheusArgs(
    prefix=prefix, image=settings.images.prometheus, network_name=network.network_name,
    scrape_interval=settings.scrape_interval, bind_address=bind, host_port=ports.prometheus,
    depends_on=[exporter.container]))

grafana = Grafana("grafana", GrafanaArgs(
    prefix=prefix, image=settings.images.grafana, network_name=network.network_name,
    scrape_interval=settings.scrape_interval, admin_password=credentials.grafana_admin,
    bind_address=bind, host_port=ports.grafana, depends_on=[prometheus.container]))

workload = Workload("workload", WorkloadArgs(
    prefix=prefix, network_name=network.network_name, password=credentials.workload,
    knobs=settings.workload, dd_env=settings.dd_env,
    agent_host=topology.AGENT_ALIAS if agent else None,
    depends_on=[postgres.container] + ([agent.container] if agent else [])))

host = settings.browse_host
pulumi.export("grafanaUrl", f"http://{host}:{ports.grafana}")
pulumi.export("prometheusUrl", f"http://{host}:{ports.prometheus}")
pulumi.export("exporterUrl", f"http://{host}:{ports.exporter}/metrics")
pulumi.export("postgresDsn", pulumi.Output.secret(pulumi.Output.concat(
    "postgresql://", topology.SUPERUSER, ":", credentials.postgres, "@", host, ":", str(ports.postgres),
    "/", topology.DATABASE)))
pulumi.export("grafanaAdminPassword", credentials.grafana_admin)
pulumi.export("networkName", network.network_name)
if agent:
    pulumi.export("datadogDbmUrl", datadog_render.dbm_url(settings.dd_app_host, settings.dd_env))
