"""Where the lab's containers run: Docker (docker.py) or Kubernetes (kubernetes.py). Each platform
places a ContainerSpec (components/container.py) and returns a Placed: no component is written twice."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi


@dataclass
class Placed:
    """What a platform made of a ContainerSpec, for the component's outputs."""
    name: pulumi.Output[str]
    """The container's name (Docker), or its workload's name (Kubernetes)."""
    data_name: Optional[pulumi.Output[str]] = None
    """The data volume's or claim's name, where the spec has data."""
    endpoint: Optional[pulumi.Output[str]] = None
    """Where the user reaches its port from their machine ("host:port"), where it has one."""
