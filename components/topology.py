"""Facts several containers agree on: names, aliases, in-container ports, roles.

One place for each; components, renderers and the tests import them. The facts the workload image
needs too (where the database is, its name, the workload's role) are defined by the workload's own
settings, which its image carries without this program, and only named here.
"""
from workload.credit_workload import settings as workload_settings

# The credit database the workload uses and every monitor points at.
DATABASE = workload_settings.DEFAULT_DBNAME

# Network aliases (DNS names on the lab's private network) and the ports the
# processes listen on inside their containers.
POSTGRES_ALIAS = workload_settings.DEFAULT_HOST
POSTGRES_PORT = workload_settings.DEFAULT_PORT
AGENT_ALIAS = "datadog-agent"
EXPORTER_ALIAS = "postgres-exporter"
EXPORTER_PORT = 9187
PROMETHEUS_ALIAS = "prometheus"
PROMETHEUS_PORT = 9090
GRAFANA_ALIAS = "grafana"
GRAFANA_PORT = 3000
WORKLOAD_ALIAS = "workload"

# Database roles.
SUPERUSER = "postgres"
WORKLOAD_ROLE = workload_settings.DEFAULT_USER
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
# How many customers the seed generates (ledger rows scale with it); the stack's seedCustomers.
SEED_CUSTOMERS_ENV = "CREDIT_SEED_CUSTOMERS"
