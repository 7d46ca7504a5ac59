"""Issue 25: the docker provider reads each container back from Docker after create and on refresh
(resource_docker_container_funcs.go 750-981) and plans the program's inputs against that. Whatever
Docker fills in that the program leaves open comes back as a change on the next `up`; so every
container declares it, in the form the provider reads it back. And a healthcheck change replaces the
container, because the provider's in-place update would never apply it. One mocked test per rule."""
import pytest

from components import docker_common
from tests.engine import docker_provider, docker_schema, provider_plan

HEALTHCHECK_DURATIONS = ("interval", "timeout", "startPeriod", "startInterval")


def _containers(run):
    containers = run.containers()
    assert containers, "the program declares no container"
    return containers.values()


def test_every_container_declares_no_swap(datadog_run):
    """Unset, Docker gives a container 2 x its memory as swap (read back as memory_swap, not a
    computed field: the next plan removes it); declared equal to memory, it means no swap."""
    for container in _containers(datadog_run):
        assert container.inputs.get("memory"), f"{container.urn}: no memory limit"
        assert container.inputs.get("memorySwap") == container.inputs["memory"], \
            f"{container.urn}: memorySwap {container.inputs.get('memorySwap')} != memory {container.inputs['memory']}"


def test_every_declared_healthcheck_duration_is_in_the_form_docker_reports(datadog_run):
    """Read writes each duration with Go's Duration.String(): "30m0s", never "1800s"."""
    checked = 0
    for container in _containers(datadog_run):
        health = container.inputs.get("healthcheck")
        if not health:
            continue     # the image's own HEALTHCHECK: healthcheck is computed, nothing to compare
        for key in HEALTHCHECK_DURATIONS:
            declared = health.get(key)
            assert declared is not None, f"{container.urn}: healthcheck.{key} left to the provider's default"
            read_back = docker_provider.go_duration_string(docker_provider._duration_ns(declared))
            assert declared == read_back, f"{container.urn}: healthcheck.{key} {declared!r} reads back as {read_back!r}"
            checked += 1
    assert checked >= 4 * 4, f"only {checked} durations checked: the containers' healthchecks went missing"


@pytest.mark.parametrize("seconds", [0, 1, 5, 59, 60, 61, 90, 121, 1800, 3599, 3600, 3661, 7322])
def test_go_duration_matches_the_read_back_form(seconds):
    assert docker_common.go_duration(seconds) == docker_provider.go_duration_string(seconds * 1_000_000_000)


def test_every_declared_container_field_is_in_the_providers_schema(datadog_run):
    """The stand-in plans from docker_schema.py: a field missing there would go unplanned (its
    Check refuses it, as the bridge refuses a property its schema lacks)."""
    for container in _containers(datadog_run):
        provider_plan.check_bridged("docker:index/container:Container", container.inputs)


def _replaced_on(container, path: str) -> bool:
    """Whether the engine turns a change at `path` into a replacement: a replace_on_changes entry
    that is `path`, a prefix of it, or "*" (pulumi sdk/go/common/resource/properties_path.go
    PropertyPath.Contains)."""
    return any(entry == "*" or path == entry or path.startswith(f"{entry}.") for entry in container.replace_on_changes)


def test_a_healthcheck_change_replaces_the_container(datadog_run):
    """healthcheck is not ForceNew and the provider's Update sends Docker only the resources and
    the restart policy (funcs.go 1016-1072): without replace_on_changes a new check would be
    recorded in the state and never run."""
    assert not docker_schema.CONTAINER["healthcheck"].force_new
    assert "healthcheck" not in docker_schema.CONTAINER_UPDATE_APPLIES
    for container in _containers(datadog_run):
        assert _replaced_on(container, "healthcheck.startPeriod"), f"{container.urn}: {container.replace_on_changes}"


def test_a_container_left_with_an_init_error_is_replaced(datadog_run):
    """A create that failed after Docker made the container leaves it in the state with an init
    error; the engine replaces such a resource only when replace_on_changes contains "#initerror",
    which only "*" does (step_generator.go applyReplaceOnChanges). Otherwise the provider's update
    leaves the PostgreSQL container created and never started (seen on the real provider)."""
    for container in _containers(datadog_run):
        assert "*" in container.replace_on_changes, f"{container.urn}: {container.replace_on_changes}"
