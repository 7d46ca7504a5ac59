"""The servers the integration tests run are the versions the stack's images pin (Pulumi.yaml)."""
import re
import subprocess

import pytest

from components.settings import declarations
from tests.integration.tools import binary


def image_version(key: str) -> str:
    return re.search(r":v?([0-9][0-9.]*)", declarations()[key]["default"]).group(1)


def binary_version(name: str) -> str:
    result = subprocess.run([binary(name), "--version"], capture_output=True, text=True, timeout=30)
    return re.search(r"\b(\d+\.\d+(\.\d+)?)", result.stdout + result.stderr).group(1)


@pytest.mark.parametrize("name,key", [("prometheus-postgres-exporter", "exporterImage"),
                                      ("prometheus", "prometheusImage"), ("promtool", "prometheusImage")])
def test_exporter_and_prometheus_match_the_images_exactly(name, key):
    assert binary_version(name) == image_version(key), f"{binary(name)} vs {declarations()[key]['default']}"


def test_postgres_matches_the_image_major():
    # Debian ships security minors on its own schedule; the major is what the scripts depend on.
    assert binary_version("postgres").split(".")[0] == image_version("postgresImage").split(".")[0]
