-- What the monitors need, in every database they connect to: the Datadog Agent connects to
-- `postgres` and `creditdb`, postgres_exporter to `creditdb`. Roles and pg_monitor: 10-roles.sql.
-- Idempotent: IF NOT EXISTS / OR REPLACE / GRANT and REVOKE repeat harmlessly.
\set ON_ERROR_STOP on

\connect postgres
\ir include/monitoring-objects.psql

\connect creditdb
\ir include/monitoring-objects.psql
