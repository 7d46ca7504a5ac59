"""How many connections the Datadog Agent's `postgres` check holds, from its source
(DataDog/integrations-core `postgres/datadog_checks/postgres/`, datadog-postgres 23.x, 2025-2026):
- one main connection to `dbname`, outside any pool (postgres.py `_new_connection`: "Keeping this
  main connection outside of the pool");
- one psycopg pool per database it reaches, `min_size` 0 and `max_size` 2 (connection_pool.py,
  LRUConnectionPoolManager), at most `max_connections` pools, the least recently used evicted
  (default 30, spec.yaml `display_default`);
- the databases it reaches: `dbname` (query metrics, samples, activity, settings), every
  non-template database (schema collection, `collect_schemas`), and the database of any sampled
  query it explains.
Older checks read `max_connections` as a cap on pooled connections, which is never more.
"""
POOL_MAX_SIZE = 2
DEFAULT_MAX_CONNECTIONS = 30


def pools(instance: dict, databases: int) -> int:
    return min(instance.get("max_connections", DEFAULT_MAX_CONNECTIONS), databases)


def most_connections(instance: dict, databases: int) -> int:
    """The most connections the check can hold on a server with `databases` it can reach."""
    return 1 + POOL_MAX_SIZE * pools(instance, databases)


def bound(instance: dict) -> int:
    """The most connections the check can hold, however many databases there are."""
    return 1 + POOL_MAX_SIZE * instance.get("max_connections", DEFAULT_MAX_CONNECTIONS)
