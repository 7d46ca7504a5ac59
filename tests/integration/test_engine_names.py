"""Whatever a stack is called, the real Pulumi CLI accepts the name and the real Docker Engine accepts
every name the program derives from it: containers, volumes, networks, the workload's image.

The program runs under Pulumi's mocks for each stack name (tests/unit/harness.py); each name it
declares is then created on the engine (a container not started, a volume, a network, a tag of a
pinned image) and removed. The stack names are this test's own, so nothing of a user's stack is
touched; what an earlier, killed run left under them is removed first.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker
import pytest
from pulumi import automation as auto

from tests.integration import images
from tests.integration import real_lab
from tests.unit import harness
from tests.unit.conftest import API_KEY

# Capitals, `_`, `.`, and the file backend's longest name (pulumi/pulumi validateStackName: 100).
STACK_NAMES = ["names-probe", "Names-Probe", "names_probe", "Names.Probe-1", "n" * 100]


@pytest.fixture(scope="module")
def cli():
    """The real CLI on a file backend in a home of its own."""
    home = Path(tempfile.mkdtemp(prefix="credit-lab-names-"))
    try:
        options = real_lab.workspace(home)
        workspace = auto.LocalWorkspace(work_dir=options.work_dir, pulumi_home=options.pulumi_home,
                                        env_vars=options.env_vars, pulumi_command=options.pulumi_command)
        yield workspace
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _declared_names(stack: str) -> dict[str, list[str]]:
    run = harness.run_program(secret={"ddApiKey": API_KEY}, stack=stack)
    found = {"container": [], "volume": [], "network": [], "image": []}
    for resource in run.resources:
        kind = {"docker:index/container:Container": "container", "docker:index/volume:Volume": "volume",
                "docker:index/network:Network": "network", "docker:index/image:Image": "image"}.get(resource.type)
        if kind:
            found[kind].append(resource.inputs["imageName" if kind == "image" else "name"])
    assert all(found.values()), found
    return found


def _remove(client: docker.DockerClient, names: dict[str, list[str]]) -> None:
    for name in names["container"]:
        for container in client.containers.list(all=True, filters={"name": f"^/{name}$"}):
            container.remove(force=True, v=True)   # its anonymous volumes too (the image declares VOLUME)
    for name in names["volume"]:
        for volume in client.volumes.list(filters={"name": f"^{name}$"}):
            volume.remove(force=True)
    for name in names["network"]:
        for network in client.networks.list(names=[name]):
            network.remove()
    for reference in names["image"]:
        try:
            client.images.remove(reference)   # the tag only: the pinned image stays
        except docker.errors.ImageNotFound:
            pass


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_the_cli_and_the_engine_accept_every_name_whatever_the_stack_name(cli, stack):
    cli.create_stack(stack)   # `pulumi stack init`: the CLI refuses a name it does not accept
    try:
        names = _declared_names(stack)
        client = real_lab.engine()
        _remove(client, names)
        try:
            base = client.images.get(images.postgres())
            for name in names["volume"]:
                client.volumes.create(name)
            for name in names["network"]:
                client.networks.create(name)
            for name in names["container"]:
                client.containers.create(images.postgres(), name=name, command=["true"])
            for reference in names["image"]:
                repository, _, tag = reference.rpartition(":")
                assert base.tag(repository, tag), reference
        finally:
            _remove(client, names)
    finally:
        cli.remove_stack(stack)
