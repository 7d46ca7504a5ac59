-- Roles and their passwords. Runs as the superuser, first, on an empty data directory (the image's
-- /docker-entrypoint-initdb.d) AND again on every later container start (credit-lab-reapply.sh):
-- that second path is how a password changed with `pulumi config set` reaches an existing
-- database, because init scripts never rerun on a data volume that already holds a database.
-- Everything here is idempotent: CREATE only when missing, ALTER to the wanted state always.
--
-- Passwords come from the container's environment (psql 15 \getenv), never from a file.
\set ON_ERROR_STOP on
\connect postgres
SET client_min_messages = warning;  -- reruns: no "already exists, skipping" noise

\getenv superuser_password POSTGRES_PASSWORD
\getenv credit_app_password CREDIT_APP_PASSWORD
\getenv datadog_password DATADOG_PASSWORD
\getenv exporter_password EXPORTER_PASSWORD
\if :{?superuser_password} \else \set superuser_password '' \endif
\if :{?credit_app_password} \else \set credit_app_password '' \endif
\if :{?datadog_password} \else \set datadog_password '' \endif
\if :{?exporter_password} \else \set exporter_password '' \endif

-- Stop with one clear message naming every missing variable, before anything changes.
SELECT concat_ws(', ',
    CASE WHEN :'superuser_password' = '' THEN 'POSTGRES_PASSWORD' END,
    CASE WHEN :'credit_app_password' = '' THEN 'CREDIT_APP_PASSWORD' END,
    CASE WHEN :'datadog_password' = '' THEN 'DATADOG_PASSWORD' END,
    CASE WHEN :'exporter_password' = '' THEN 'EXPORTER_PASSWORD' END) AS missing_env \gset
SELECT set_config('credit_lab.missing_env', :'missing_env', false) \g /dev/null
DO $$
BEGIN
    IF current_setting('credit_lab.missing_env') <> '' THEN
        RAISE EXCEPTION 'credit-lab init stopped: environment variable(s) % not set or empty',
            current_setting('credit_lab.missing_env')
            USING HINT = 'The PostgreSQL container needs every role password in its environment.';
    END IF;
END $$;

-- The statements below carry passwords: keep them out of the server log whatever its settings.
-- (pg_stat_statements skips them too: track_utility is off.)
SET log_statement = 'none';
SET log_min_duration_statement = -1;
SET log_min_error_statement = 'panic';

SELECT format('CREATE ROLE %I LOGIN', r) FROM unnest(ARRAY['credit_app', 'datadog', 'postgres_exporter']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

ALTER ROLE postgres PASSWORD :'superuser_password';

-- Connection budget (max_connections = 100 in server.conf): credit_app 84 + datadog 10 +
-- postgres_exporter 3 + superuser_reserved_connections 3 = 100. Each role can use its whole limit
-- and the others still get in: a connection storm in the workload never locks the monitors out,
-- yet it can take the server past PostgresTooManyConnections' 80%.

-- The workload: owns the credit database and its objects, nothing more (no superuser, no role or
-- database creation). Its sessions end a transaction left idle for 5 minutes: a client that hangs
-- mid-transaction cannot hold back VACUUM for long (the idle-in-transaction scenario idles 90 s).
ALTER ROLE credit_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    INHERIT CONNECTION LIMIT 84 PASSWORD :'credit_app_password';
ALTER ROLE credit_app SET idle_in_transaction_session_timeout = '5min';

-- Datadog Agent (DBM): pg_monitor gives it pg_stat_activity with every role's query text and
-- pg_stat_statements; the explain function (30-monitoring.sql) is its only way to plans.
ALTER ROLE datadog WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    INHERIT CONNECTION LIMIT 10 PASSWORD :'datadog_password';
GRANT pg_monitor TO datadog;

-- postgres_exporter: pg_monitor is enough on 15. No search_path override (it breaks the
-- stat_statements collector).
ALTER ROLE postgres_exporter WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    INHERIT CONNECTION LIMIT 3 PASSWORD :'exporter_password';
GRANT pg_monitor TO postgres_exporter;

RESET log_min_error_statement;
RESET log_min_duration_statement;
RESET log_statement;
