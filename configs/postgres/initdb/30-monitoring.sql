-- What the monitors need, in every database they connect to: the Datadog Agent connects to
-- `postgres` and `creditdb`, postgres_exporter to `creditdb`. Roles and pg_monitor: 10-roles.sql.
-- Idempotent: IF NOT EXISTS / OR REPLACE / GRANT and REVOKE repeat harmlessly.
\set ON_ERROR_STOP on

\connect postgres
SET client_min_messages = warning;  -- reruns: no "already exists, skipping" noise
-- pg_stat_statements: DBM and the exporter read it in the database they connect to.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE SCHEMA IF NOT EXISTS datadog;
REVOKE ALL ON SCHEMA datadog FROM PUBLIC;
GRANT USAGE ON SCHEMA datadog TO datadog;
GRANT USAGE ON SCHEMA public TO datadog;
-- Datadog's explain function (the variant with SET TRANSACTION READ ONLY, integrations-core #21349).
-- SECURITY DEFINER, so it runs as the superuser that owns it: it can plan queries on tables datadog
-- cannot read, and READ ONLY stops anything the planner would execute (an IMMUTABLE function that
-- writes, say) from changing data. Plans only: EXPLAIN without ANALYZE never runs the statement.
CREATE OR REPLACE FUNCTION datadog.explain_statement(
    l_query TEXT,
    OUT explain JSON
)
RETURNS SETOF JSON AS
$$
DECLARE
    curs REFCURSOR;
    plan JSON;
BEGIN
    SET TRANSACTION READ ONLY;
    OPEN curs FOR EXECUTE pg_catalog.concat('EXPLAIN (FORMAT JSON) ', l_query);
    FETCH curs INTO plan;
    CLOSE curs;
    RETURN QUERY SELECT plan;
END;
$$
LANGUAGE plpgsql
RETURNS NULL ON NULL INPUT
SECURITY DEFINER;
REVOKE ALL ON FUNCTION datadog.explain_statement(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION datadog.explain_statement(TEXT) TO datadog;

\connect creditdb
SET client_min_messages = warning;  -- reruns: no "already exists, skipping" noise
-- pg_stat_statements: DBM and the exporter read it in the database they connect to.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE SCHEMA IF NOT EXISTS datadog;
REVOKE ALL ON SCHEMA datadog FROM PUBLIC;
GRANT USAGE ON SCHEMA datadog TO datadog;
GRANT USAGE ON SCHEMA public TO datadog;
-- Datadog's explain function (the variant with SET TRANSACTION READ ONLY, integrations-core #21349).
-- SECURITY DEFINER, so it runs as the superuser that owns it: it can plan queries on tables datadog
-- cannot read, and READ ONLY stops anything the planner would execute (an IMMUTABLE function that
-- writes, say) from changing data. Plans only: EXPLAIN without ANALYZE never runs the statement.
CREATE OR REPLACE FUNCTION datadog.explain_statement(
    l_query TEXT,
    OUT explain JSON
)
RETURNS SETOF JSON AS
$$
DECLARE
    curs REFCURSOR;
    plan JSON;
BEGIN
    SET TRANSACTION READ ONLY;
    OPEN curs FOR EXECUTE pg_catalog.concat('EXPLAIN (FORMAT JSON) ', l_query);
    FETCH curs INTO plan;
    CLOSE curs;
    RETURN QUERY SELECT plan;
END;
$$
LANGUAGE plpgsql
RETURNS NULL ON NULL INPUT
SECURITY DEFINER;
REVOKE ALL ON FUNCTION datadog.explain_statement(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION datadog.explain_statement(TEXT) TO datadog;
