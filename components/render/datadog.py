"""The Datadog Agent's settings: its env, and the `postgres` check with Database Monitoring.

The check is an Autodiscovery template in the Agent container's `com.datadoghq.ad.checks`
label (Agent 7.36+ format), as Datadog documents for an Agent in Docker. Its password is the
template variable `%%env_DD_POSTGRES_PASSWORD%%`, which the Agent resolves from its own
environment: the label, visible in `docker inspect`, never holds the password.
"""
from __future__ import annotations

import json

from components import topology

API_KEY_ENV = "DD_API_KEY"
# The Agent resolves %%env_<NAME>%% from this variable of its own container.
POSTGRES_PASSWORD_ENV = "DD_POSTGRES_PASSWORD"
CHECKS_LABEL = "com.datadoghq.ad.checks"
LOGS_LABEL = "com.datadoghq.ad.logs"
POSTGRES_SERVICE = "credit-postgres"
# On the check's metrics, and on every monitor and the dashboard of the lab (render/datadog_monitors.py).
LAB_TAG = "lab:credit-lab"
# The check holds one main connection plus a pool of up to 2 per database it reaches (DBM jobs,
# explain plans, schema collection), for at most `max_connections` databases (integrations-core
# postgres `connection_pool.py`, LRUConnectionPoolManager; older checks read the option as a cap on
# pooled connections, which is stricter). 4 bounds the check to 1 + 2 x 4 = 9 connections, inside
# the `datadog` role's CONNECTION LIMIT 10 (configs/postgres/initdb/10-roles.sql); the lab has two
# databases the check reaches (postgres, creditdb), so it uses at most 5.
CHECK_MAX_CONNECTIONS = 4
# Where the Agent keeps its log positions (logs_config.run_path): on a named volume, so a new Agent
# container resumes where the last one stopped.
RUN_PATH = "/opt/datadog-agent/run"


def agent_env(site: str, env: str, hostname: str, kubernetes: bool = False) -> dict[str, str]:
    """Non-secret env of the Agent container (the API key and DB password go separately). On
    Kubernetes the Agent tails the pods' log files under /var/log/pods (Datadog: Kubernetes log
    collection) instead of Docker's json-file logs."""
    values = {
        "DD_SITE": site,
        "DD_ENV": env,
        # Containers cannot always detect a host name (Docker Desktop, Colima): name it. The
        # Agent ignores a name that is not RFC 1123 (no `_`): the caller passes a DNS label.
        "DD_HOSTNAME": hostname,
        # APM intake on 8126 for the workload's traces, from other containers of the network.
        "DD_APM_ENABLED": "true",
        "DD_APM_NON_LOCAL_TRAFFIC": "true",
        "DD_DOGSTATSD_NON_LOCAL_TRAFFIC": "true",
        # Logs only from containers that ask for it with a LOGS_LABEL (PostgreSQL: slow
        # statements and auto_explain plans), not from every container of the host.
        "DD_LOGS_ENABLED": "true",
        "DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL": "false",
        # Tail the json-file logs under /var/lib/docker/containers (mounted read-only), falling
        # back to the Docker socket where that path is not the daemon's (Datadog: Docker log
        # collection; this is the Agent's default since 7.33, set so it is visible).
        "DD_LOGS_CONFIG_DOCKER_CONTAINER_USE_FILE": "true",
        "DD_PROCESS_AGENT_ENABLED": "false",
        # The Agent's own service check of every check run, CRITICAL when the run raises (datadog-agent
        # pkg/collector/runner worker.go; off by default since 7.47, release notes): the only signal
        # when the postgres check cannot even initialize because the database is down as the Agent
        # starts (its connection is validated in check_initializations, before any
        # postgres.can_connect is sent: integrations-core postgres.py, validate.py).
        "DD_INTEGRATION_CHECK_STATUS_ENABLED": "true",
    }
    if kubernetes:
        del values["DD_LOGS_CONFIG_DOCKER_CONTAINER_USE_FILE"]
        values["DD_LOGS_CONFIG_K8S_CONTAINER_USE_FILE"] = "true"
    return values


def postgres_instance(env: str, host: str, port: int, reported_hostname: str, stack: str) -> dict:
    """One `postgres` check instance with DBM, pointed at the credit database on `host`:`port`.
    DBM lists the database under `reported_hostname`: the stack's container name keeps two stacks
    apart, and every metric carries `stack:<stack>`, which the lab's monitors filter on."""
    return {
        "dbm": True,
        # The Agent must reach the database directly (no pooler): the server's own address.
        "host": host,
        "port": port,
        "username": topology.DATADOG_ROLE,
        "password": f"%%env_{POSTGRES_PASSWORD_ENV}%%",
        # Per-table metrics come from the database the check connects to.
        "dbname": topology.DATABASE,
        "reported_hostname": reported_hostname,
        "max_connections": CHECK_MAX_CONNECTIONS,
        "tags": [f"env:{env}", f"service:{POSTGRES_SERVICE}", LAB_TAG, f"stack:{stack}"],
        # postgresql.transactions.open/.idle_in_transaction, .activity.xact_start_age, waiting
        # queries: off by default in the check (postgres config.py, `collect_activity_metrics`),
        # and the lab's monitors for long and idle-in-transaction sessions and waits need them.
        "collect_activity_metrics": True,
        "relations": [{"relation_regex": ".*"}],
        "collect_schemas": {"enabled": True},
        "collect_settings": {"enabled": True},
        "query_metrics": {"enabled": True},
        "query_samples": {"enabled": True, "explain_parameterized_queries": True},
        "query_activity": {"enabled": True},
    }


def stack_tag(prefix: str) -> str:
    """The value of the `stack:` tag for a stack's name prefix (project-stack). Datadog lowercases
    tags on intake ("Tags are converted to lowercase", docs: Getting Started with Tags), so the
    monitors' filters must use the lowercased value too."""
    return prefix.lower()


# On Kubernetes the check is an Autodiscovery annotation of the database's pod, the instance's host
# the template variable the Agent fills with the pod's IP (Datadog: Autodiscovery template variables).
POD_HOST = "%%host%%"


def pod_annotations(container: str, env: str, port: int, reported_hostname: str, stack: str) -> dict[str, str]:
    """The PostgreSQL pod's Autodiscovery annotations (`ad.datadoghq.com/<container>.checks` and
    `.logs`, Agent 7.36+): the same check instance and log settings as on Docker."""
    return {f"ad.datadoghq.com/{container}.checks": checks_label(env, POD_HOST, port, reported_hostname, stack),
            f"ad.datadoghq.com/{container}.logs": postgres_logs_label()}


def checks_label(env: str, host: str, port: int, reported_hostname: str, stack: str) -> str:
    """Value of CHECKS_LABEL: {"postgres": {"init_config": {}, "instances": [...]}} as JSON."""
    instance = postgres_instance(env, host, port, reported_hostname, stack)
    return json.dumps({"postgres": {"init_config": {}, "instances": [instance]}}, sort_keys=True)


# A log entry starts with log_line_prefix's timestamp (%m); auto_explain's JSON plans span many
# lines and must stay one entry (the rule Datadog's postgres integration documents).
MULTI_LINE_START = r"\d{4}-(0?[1-9]|1[012])-(0?[1-9]|[12][0-9]|3[01])"


def postgres_logs_label() -> str:
    """Value of LOGS_LABEL on the PostgreSQL container: its stderr log, parsed as PostgreSQL's."""
    return json.dumps([{
        "source": "postgresql",
        "service": POSTGRES_SERVICE,
        "log_processing_rules": [{"type": "multi_line", "name": "new_entry_starts_with_date",
                                  "pattern": MULTI_LINE_START}],
    }])


def dbm_url(app_host: str, env: str) -> str:
    """Datadog's Database Monitoring page, filtered to this lab's env."""
    return f"https://{app_host}/databases?query=env%3A{env}"
