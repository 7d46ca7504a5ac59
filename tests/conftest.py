"""The order of the whole suite: first everything on Docker and under mocks, then the cluster's tests
(.ci/run starts the cluster in the background meanwhile: its cold Go builds take half an hour), and
last the tests marked `restarts_docker`, which restart the Docker daemon and so stop every container
without a restart policy (tests/integration/conftest.py's lab_postgres among them)."""
from pathlib import Path

CLUSTER_TESTS = Path(__file__).parent / "cluster"


def _stage(item) -> int:
    if item.get_closest_marker("restarts_docker"):
        return 2
    return 1 if Path(item.path).is_relative_to(CLUSTER_TESTS) else 0


def pytest_collection_modifyitems(items):
    items.sort(key=_stage)   # stable: within a stage, pytest's own order (a module's tests together)
