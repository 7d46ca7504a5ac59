"""The lab's private bridge network: containers find each other by alias, nothing else joins."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass
class NetworkArgs:
    name: str
    """Docker network name; carries project and stack so two stacks can share a host."""


class Network(pulumi.ComponentResource):
    network_name: pulumi.Output[str]
    """The Docker network's name, for containers to join."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("credit-lab:index:Network", name, None, opts)
        network = docker.Network(f"{name}-bridge", name=args.name, driver="bridge",
                                 opts=pulumi.ResourceOptions(parent=self))
        self.network_name = network.name
        self.register_outputs({"networkName": self.network_name})
