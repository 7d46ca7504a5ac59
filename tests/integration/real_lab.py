"""The whole lab on the real Docker Engine, on a stack of its own.

`up` runs the real __main__.py with tests/engine/docker_provider.py answering each registration,
so every network, volume, image and container is made on the engine as the provider would make it;
`destroy` removes them in reverse order, as `pulumi destroy` would. The test stack has its own
name (so its own container, volume and network names) and host ports of its own, so it never
touches a user's `dev` stack; a run first removes whatever a killed run of the same stack left.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import docker

from tests.engine import docker_provider
from tests.unit import harness

# The test stack: its own name and host ports (none of them a default of Pulumi.yaml).
STACK = "itest"
PORTS = {"postgresPort": 15432, "exporterPort": 19187, "prometheusPort": 19091, "grafanaPort": 13001}
PREFIX = f"{harness.PROJECT}-{STACK}"


@dataclass
class Lab:
    run: harness.Run
    provider: docker_provider.DockerProvider

    def output(self, name: str):
        return self.run.outputs[name].value

    def containers(self) -> dict[str, docker.models.containers.Container]:
        """The stack's containers on the engine, by alias."""
        client = self.provider.client
        return {c.name[len(PREFIX) + 1:]: c for c in client.containers.list(all=True) if _is_ours(c.name)}


def engine() -> docker.DockerClient:
    """The Docker Engine the tests run on (DOCKER_HOST or the local socket)."""
    client = docker.from_env(timeout=300)
    client.ping()
    return client


def _is_ours(name: str) -> bool:
    return name.startswith(f"{PREFIX}-")


def leftovers(client: docker.DockerClient) -> dict[str, list[str]]:
    """What of the test stack is on the engine: containers, volumes and networks by name."""
    return {
        "containers": sorted(c.name for c in client.containers.list(all=True) if _is_ours(c.name)),
        "volumes": sorted(v.name for v in client.volumes.list() if _is_ours(v.name)),
        "networks": sorted(n.name for n in client.networks.list() if _is_ours(n.name)),
    }


def remove_leftovers(client: docker.DockerClient) -> None:
    """Remove what an earlier, killed run of the test stack left (containers come back with their
    restart policy whenever dockerd starts)."""
    for container in client.containers.list(all=True):
        if _is_ours(container.name):
            container.remove(force=True, v=True)
    for volume in client.volumes.list():
        if _is_ours(volume.name):
            volume.remove(force=True)
    for network in client.networks.list():
        if _is_ours(network.name):
            network.remove()


def ports_in_use(bind_address: str = "127.0.0.1") -> list[int]:
    busy = []
    for port in PORTS.values():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((bind_address, port))
            except OSError:
                busy.append(port)
    return busy


def up(client: docker.DockerClient, config: dict[str, str] | None = None,
       secret: dict[str, str] | None = None) -> Lab:
    """The lab as `pulumi up` on the test stack would make it. Raises with the provider's error."""
    busy = ports_in_use()
    if busy:
        raise RuntimeError(f"host ports {busy} of the test stack are taken by another process or stack")
    provider = docker_provider.DockerProvider(client)
    try:
        run = harness.run_program(config={**{k: str(v) for k, v in PORTS.items()}, **(config or {})},
                                  secret=secret, stack=STACK, mocks=provider)
    except Exception as error:
        raise RuntimeError(f"up failed: {provider.errors or error}") from error
    if provider.errors:
        raise RuntimeError(f"up failed: {provider.errors}")
    return Lab(run, provider)


def destroy(lab: Lab) -> float:
    """Delete every resource in reverse creation order; returns the seconds it took."""
    started = time.monotonic()
    for resource in reversed(lab.provider.created):
        docker_provider.delete(lab.provider.client, resource)
    return time.monotonic() - started

