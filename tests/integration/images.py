"""The images the component tests run: those the stack pins, on the engine under the exact
reference Pulumi.yaml declares (`python -m tests.images.build` puts them there, real or stand-in),
and the workload image, built from workload/Dockerfile the way `pulumi up` builds it."""
from __future__ import annotations

import functools

from components import settings
from tests.engine import docker_provider, provider_plan
from tests.integration import program
from tests.integration.containers import _client


def pinned(key: str) -> str:
    """The reference the stack pins by default for image setting `key`, present on the engine."""
    reference = settings.declarations()[key]["default"]
    try:
        _client().images.get(reference)
    except Exception as error:  # noqa: BLE001 - docker.errors.ImageNotFound, reported with the fix
        raise RuntimeError(f"{reference} is not on the Docker Engine ({error}): run `bash .ci/install-tools`, "
                           "which builds the images that cannot be pulled") from error
    return reference


def postgres() -> str:
    return pinned("postgresImage")


def exporter() -> str:
    return pinned("exporterImage")


def prometheus() -> str:
    return pinned("prometheusImage")


def grafana() -> str:
    return pinned("grafanaImage")


def datadog_agent() -> str:
    return pinned("datadogAgentImage")


@functools.lru_cache(maxsize=1)
def workload() -> str:
    """The workload image, built once per test run from the program's own docker.Image inputs, as
    the provider completes them in its Check."""
    (image,) = program.stack().of_type("docker:index/image:Image")
    checked = provider_plan.check_image(dict(image.inputs), docker_provider.REPO)
    reference, _ = docker_provider.create_image(_client(), image.name, checked, timeout_s=0)
    return reference


def healthcheck(reference: str) -> list[str]:
    """The image's own HEALTHCHECK test."""
    return list(_client().api.inspect_image(reference)["Config"]["Healthcheck"]["Test"])
