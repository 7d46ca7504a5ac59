-- The credit database, owned by the workload role. Idempotent (CREATE DATABASE cannot run in a
-- DO block or transaction, hence \gexec on a conditional SELECT).
\set ON_ERROR_STOP on
\connect postgres
SET client_min_messages = warning;  -- reruns: no "already exists, skipping" noise

SELECT 'CREATE DATABASE creditdb OWNER credit_app'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'creditdb') \gexec
ALTER DATABASE creditdb OWNER TO credit_app;

-- Only the roles that need it may connect (PUBLIC can connect to a new database by default).
REVOKE ALL ON DATABASE creditdb FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE creditdb TO credit_app;
GRANT CONNECT ON DATABASE creditdb TO datadog, postgres_exporter;
