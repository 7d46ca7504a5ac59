"""Every cluster test runs once the cluster is up: when .ci/run starts it in the background beside
the suite, the first one waits for it (tests/conftest.py orders these tests after the Docker ones)."""
import pytest

from tests.cluster import cluster


@pytest.fixture(scope="session", autouse=True)
def cluster_started():
    cluster.wait_for_the_background_start()
