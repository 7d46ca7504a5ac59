"""Shared fixtures for the integration tests.

lab_postgres: one PostgreSQL 15 for the whole session, set up exactly as the lab's container
(components/render/postgres.py) with a small seed. Tests that change server state in a way
others would notice (passwords, restarts, a missing env) start their own LabPostgres instead.
"""
import pytest

from tests.integration.pg import LabPostgres

# Small enough for CI (init ~3 s), big enough for every table to hold rows of every kind.
TEST_SEED_CUSTOMERS = 2000


@pytest.fixture(scope="session")
def lab_postgres(tmp_path_factory):
    server = LabPostgres(tmp_path_factory.mktemp("lab-postgres"), seed_customers=TEST_SEED_CUSTOMERS)
    try:
        server.start()
        yield server
    finally:
        server.destroy()
