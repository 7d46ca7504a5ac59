"""Shared fixtures for the integration tests.

lab_postgres: one PostgreSQL 15 for the whole session, set up exactly as the lab's container
(components/render/postgres.py) with a small seed. Tests that change server state in a way
others would notice (passwords, restarts, a missing env) start their own LabPostgres instead.

Tests marked `restarts_docker` restart the Docker daemon, which stops every container without a
restart policy (lab_postgres's among them): tests/conftest.py runs them after every other test.
"""
import pytest

from tests.integration.pg import LabPostgres

# Small enough for CI (init ~3 s), big enough for every table to hold rows of every kind.
TEST_SEED_CUSTOMERS = 2000


@pytest.fixture(scope="session")
def lab_postgres():
    server = LabPostgres(seed_customers=TEST_SEED_CUSTOMERS)
    try:
        server.start()
        yield server
    finally:
        server.destroy()
