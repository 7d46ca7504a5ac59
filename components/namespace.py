"""The lab's Kubernetes namespace: everything of a stack is in it, and goes with it on destroy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platforms.kubernetes import POD_SECURITY


@dataclass
class NamespaceArgs:
    name: str
    """The namespace (a DNS label; credit-lab-<stack> unless the stack sets `namespace`)."""


class Namespace(pulumi.ComponentResource):
    name: pulumi.Output[str]
    """The namespace's name, once it exists."""

    def __init__(self, name: str, args: NamespaceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("credit-lab:index:Namespace", name, None, opts)
        # Pod Security admission enforces the strictest standard the lab's pods meet.
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(
            name=args.name, labels={"app.kubernetes.io/part-of": "credit-lab",
                                    "pod-security.kubernetes.io/enforce": POD_SECURITY,
                                    "pod-security.kubernetes.io/enforce-version": "latest"}),
            opts=pulumi.ResourceOptions(parent=self))
        self.name = namespace.metadata.name
        self.register_outputs({"name": self.name})
