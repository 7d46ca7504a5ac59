"""Facts several containers agree on: names, aliases, in-container ports, roles.

One place for each; components, renderers, the workload and the tests import them.
"""

# The credit database the workload uses and every monitor points at.
DATABASE = "creditdb"

# Network aliases (DNS names on the lab's private network) and the ports the
# processes listen on inside their containers.
POSTGRES_ALIAS = "postgres"
POSTGRES_PORT = 5432
AGENT_ALIAS = "datadog-agent"
APM_PORT = 8126
EXPORTER_ALIAS = "postgres-exporter"
EXPORTER_PORT = 9187
PROMETHEUS_ALIAS = "prometheus"
PROMETHEUS_PORT = 9090
GRAFANA_ALIAS = "grafana"
GRAFANA_PORT = 3000
WORKLOAD_ALIAS = "workload"

# Database roles.
SUPERUSER = "postgres"
WORKLOAD_ROLE = "credit_app"
DATADOG_ROLE = "datadog"
EXPORTER_ROLE = "postgres_exporter"

# Environment variables of the PostgreSQL container that carry passwords to the
# init scripts (never written into a file). POSTGRES_PASSWORD is the official image's.
PASSWORD_ENV = {
    SUPERUSER: "POSTGRES_PASSWORD",
    WORKLOAD_ROLE: "CREDIT_APP_PASSWORD",
    DATADOG_ROLE: "DATADOG_PASSWORD",
    EXPORTER_ROLE: "EXPORTER_PASSWORD",
}
# How many customers the seed generates (ledger rows scale with it).
SEED_CUSTOMERS_ENV = "CREDIT_SEED_CUSTOMERS"
DEFAULT_SEED_CUSTOMERS = 100_000
