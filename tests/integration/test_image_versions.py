"""The images the tests and the lab run hold the versions their references pin (Pulumi.yaml): a
stand-in image built from Debian's packages (tests/images) must not drift from its tag."""
import re

import pytest

from components.settings import declarations
from tests.integration import images
from tests.integration.containers import run_once

IMAGES = {"postgresImage": images.postgres, "exporterImage": images.exporter, "prometheusImage": images.prometheus}


def tag_version(key: str) -> str:
    return re.search(r":v?([0-9][0-9.]*)", declarations()[key]["default"]).group(1)


def version_in_image(key: str, program: str) -> str:
    result = run_once(IMAGES[key](), ["--version"], entrypoint=[program])
    assert result.returncode == 0, result.stderr
    return re.search(r"\b(\d+\.\d+(\.\d+)?)", result.stdout + result.stderr).group(1)


@pytest.mark.parametrize("key,program", [("postgresImage", "postgres"), ("exporterImage", "postgres_exporter"),
                                         ("prometheusImage", "prometheus"), ("prometheusImage", "promtool")])
def test_each_image_runs_the_version_its_tag_names(key, program):
    assert version_in_image(key, program) == tag_version(key), f"{program} in {declarations()[key]['default']}"
