"""Grafana 12: provisioning files, the lab dashboard and the non-secret settings.

Paths are those of the `grafana/grafana` image (provisioning under /etc/grafana/provisioning,
runs as uid 472). The admin password goes separately in GF_SECURITY_ADMIN_PASSWORD.
"""
import yaml

from components import topology
from components.render import probe
from components.render import prometheus
from components.render.dashboards import postgresql

DATASOURCE_UID = "credit-lab-prometheus"
DATASOURCE_NAME = "Prometheus"
PROVISIONING_DIR = "/etc/grafana/provisioning"
DATASOURCES_FILE = f"{PROVISIONING_DIR}/datasources/credit-lab.yaml"
DASHBOARDS_FILE = f"{PROVISIONING_DIR}/dashboards/credit-lab.yaml"
# Outside the provisioning tree: the file provider scans this folder for dashboard JSON.
DASHBOARDS_DIR = "/etc/grafana/dashboards/credit-lab"
POSTGRESQL_DASHBOARD = f"{DASHBOARDS_DIR}/postgresql.json"
FOLDER = "Credit Lab"


def datasources(prometheus_url: str, scrape_interval: str, prometheus_version: str) -> str:
    """Datasource provisioning: the lab's Prometheus under a fixed uid, declaring the version the
    stack runs (its image tag), so Grafana offers what that version supports."""
    if not prometheus_url.startswith(("http://", "https://")):
        raise ValueError(f"prometheus_url must start with http:// or https://, got {prometheus_url!r}")
    document = {
        "apiVersion": 1,
        "datasources": [{
            "name": DATASOURCE_NAME,
            "type": "prometheus",
            "uid": DATASOURCE_UID,
            "access": "proxy",
            "url": prometheus_url,
            "isDefault": True,
            "editable": False,
            "jsonData": {
                # $__interval never drops below one scrape; $__rate_interval covers 4 scrapes.
                "timeInterval": prometheus.validate_interval(scrape_interval),
                "httpMethod": "POST",
                "prometheusType": "Prometheus",
                "prometheusVersion": prometheus_version,
            },
        }],
    }
    return yaml.safe_dump(document, sort_keys=False)


def dashboard_providers() -> str:
    """Dashboard provisioning: load the lab's JSON files, read-only, into one folder."""
    document = {
        "apiVersion": 1,
        "providers": [{
            "name": "credit-lab",
            "orgId": 1,
            "folder": FOLDER,
            "type": "file",
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 30,
            "options": {"path": DASHBOARDS_DIR, "foldersFromFilesStructure": False},
        }],
    }
    return yaml.safe_dump(document, sort_keys=False)


def dashboard_files() -> dict[str, str]:
    """Absolute container path -> content of the files that do not depend on the stack."""
    return {
        DASHBOARDS_FILE: dashboard_providers(),
        POSTGRESQL_DASHBOARD: postgresql.render(DATASOURCE_UID, DATASOURCE_NAME),
    }


def files(prometheus_url: str, scrape_interval: str, prometheus_version: str) -> dict[str, str]:
    """Absolute container path -> content of every file the Grafana container gets."""
    return {DATASOURCES_FILE: datasources(prometheus_url, scrape_interval, prometheus_version),
            **dashboard_files()}


def env() -> dict[str, str]:
    """Non-secret settings: anonymous viewers, the lab dashboard as home, no phoning home."""
    return {
        "GF_AUTH_ANONYMOUS_ENABLED": "true",
        "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
        "GF_AUTH_ANONYMOUS_ORG_NAME": "Main Org.",
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": POSTGRESQL_DASHBOARD,
        "GF_SECURITY_ADMIN_USER": "admin",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        "GF_NEWS_NEWS_FEED_ENABLED": "false",
    }


# Grafana's documented health endpoint (database and version; no login needed).
HEALTH_PATH = "/api/health"


def healthcheck() -> list[str]:
    """Docker healthcheck test."""
    return probe.http(topology.GRAFANA_PORT, HEALTH_PATH)
