"""The docker provider's schemas as the Pulumi bridge diffs them, for the stand-in (provider_plugin.py).

Each property, by its Pulumi name, with what decides a plan: `force_new` (a change replaces the
resource), `computed` (the provider fills it in when the program leaves it out, so leaving it out is
no change), `default` (the bridge's Check writes it into the inputs), `kind` (a set compares without
order; a block is one object whose fields compare one by one) and `suppress_empty` (the schema's
DiffSuppressFunc: an empty value in the program is no change). Read from
kreuzwerker/terraform-provider-docker v4.5.0 (commit 5074970c71ce, the `upstream` submodule of
pulumi-docker 5.x), `internal/provider/resource_docker_{container,network,volume,image}.go`; the
number beside each field is its line there. Names: pulumi-docker `provider/resources.go` and the
Python SDK's getters (`tests/unit/test_engine_contracts.py` checks every name against them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Field:
    line: int
    force_new: bool = False
    computed: bool = False
    default: Any = None
    kind: str = "scalar"        # scalar | list | set | map | block | ports
    suppress_empty: bool = False
    nested: Optional[dict[str, "Field"]] = field(default=None, hash=False)


def _fn(line: int, **kw) -> Field:
    return Field(line, force_new=True, **kw)


# resource_docker_container.go, Schema (lines 49-1187)
HEALTHCHECK = {
    "tests": Field(1053, kind="list"),
    "interval": Field(1059, default="0s"),
    "timeout": Field(1066, default="0s"),
    "startPeriod": Field(1073, default="0s"),
    "startInterval": Field(1080, default="0s"),
    "retries": Field(1087, default=0),
}
PORT = {"internal": _fn(494), "external": _fn(501, computed=True), "ip": _fn(509, default="0.0.0.0"),
        "protocol": _fn(525, default="tcp")}
UPLOAD = {"content": _fn(994), "file": _fn(1009), "executable": _fn(1015, default=False),
          "permissions": _fn(1022)}

CONTAINER = {
    "name": _fn(50),
    "rm": Field(57, default=False),
    "readOnly": _fn(64, default=False),
    "start": Field(72, default=True),
    "wait": Field(79, default=False),
    "waitTimeout": Field(86, default=60),
    "attach": Field(93, default=False),
    "logs": Field(100, default=False),
    "mustRun": Field(122, default=True),
    "exitCode": Field(129, computed=True),
    "containerLogs": Field(135, computed=True),
    "image": _fn(141),
    "hostname": _fn(148, computed=True),
    "domainname": _fn(156),
    "command": _fn(163, computed=True, kind="list"),
    "entrypoints": _fn(172, computed=True, kind="list"),
    "user": _fn(181, suppress_empty=True),
    "dns": _fn(196, kind="set"),
    "dnsOpts": _fn(205, kind="set"),
    "dnsSearches": _fn(214, kind="set"),
    "publishAllPorts": _fn(223),
    "restart": Field(230, default="no"),
    "maxRetryCount": Field(238),
    "workingDir": _fn(243, suppress_empty=True),
    "removeVolumes": Field(256, default=True),
    "capabilities": _fn(262, kind="set"),
    "securityOpts": _fn(291, computed=True, kind="set"),
    "runtime": _fn(300, computed=True),
    "platform": _fn(307, computed=True),
    "stopSignal": _fn(314, computed=True),
    "stopTimeout": _fn(321, computed=True),
    "mounts": _fn(328, kind="set"),
    "volumes": _fn(434, kind="set"),
    "tmpfs": Field(482, kind="map"),
    "ports": _fn(487, kind="ports", nested=PORT),
    "hosts": _fn(537, kind="set"),
    "ulimits": _fn(561, kind="set"),
    "envs": _fn(590, computed=True, kind="set"),
    "bridge": Field(600, computed=True),
    "networkDatas": Field(603, computed=True, kind="list"),
    "privileged": _fn(656),
    "devices": _fn(663, kind="set"),
    "deviceReadBps": Field(693, kind="set"),
    "deviceReadIops": Field(713, kind="set"),
    "deviceWriteBps": Field(733, kind="set"),
    "deviceWriteIops": Field(753, kind="set"),
    "deviceRequests": _fn(774, kind="set"),
    "destroyGraceSeconds": Field(827),
    "labels": _fn(833, computed=True, kind="set"),
    "memory": Field(842),
    "memoryReservation": Field(848, default=0),
    "memorySwap": Field(856),
    "shmSize": _fn(863, computed=True),
    "cpuShares": Field(872),
    "cpuSet": Field(879),
    "logDriver": _fn(886, computed=True),
    "logOpts": _fn(894, kind="map"),
    "networkMode": _fn(901, default="bridge"),
    "networksAdvanced": _fn(909, kind="set"),
    "pidMode": _fn(974),
    "usernsMode": _fn(980),
    "uploads": _fn(987, kind="set", nested=UPLOAD),
    "healthcheck": Field(1045, computed=True, kind="block", nested=HEALTHCHECK),
    "containerReadRefreshTimeoutMilliseconds": Field(1098, default=15000),
    "sysctls": _fn(1105, kind="map"),
    "ipcMode": _fn(1111, computed=True),
    "groupAdds": _fn(1118, kind="set"),
    "init": Field(1126, computed=True),
    "tty": _fn(1132, default=False),
    "stdinOpen": _fn(1139, default=False),
    "storageOpts": _fn(1146, kind="map"),
    "gpus": _fn(1152),
    "cpus": _fn(1158),
    "cpuPeriod": Field(1164),
    "cpuQuota": Field(1170),
    "cgroupnsMode": _fn(1176),
    "cgroupParent": _fn(1182),
}

# What resourceDockerContainerUpdate sends Docker, and only when one of these changed
# (resource_docker_container_funcs.go 1016-1072): the resources and the restart policy.
CONTAINER_UPDATE_APPLIES = ("restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet",
                            "memorySwap", "deviceReadBps", "deviceReadIops", "deviceWriteBps", "deviceWriteIops")

# resource_docker_network.go, Schema
NETWORK = {
    "name": _fn(25),
    "labels": _fn(32, kind="set"),
    "driver": _fn(40, computed=True),
    "options": _fn(48, computed=True, kind="map"),
    "internal": _fn(56, computed=True),
    "attachable": _fn(64),
    "ingress": _fn(71),
    "ipv6": _fn(78),
    "ipamDriver": _fn(85, default="default"),
    "ipamOptions": _fn(92, kind="map"),
    "ipamConfigs": _fn(99, computed=True, kind="set"),
    "scope": Field(139, computed=True),
}

# resource_docker_volume.go, Schema
VOLUME = {
    "name": _fn(41, computed=True),
    "labels": _fn(48, kind="set"),
    "driver": _fn(55, computed=True),
    "driverOpts": _fn(62, kind="map"),
    "mountpoint": Field(68, computed=True),
    "cluster": Field(73, kind="list"),
}

# resource_docker_image.go, Schema (docker_image is Pulumi's RemoteImage)
REMOTE_IMAGE = {
    "name": _fn(36),
    "imageId": Field(43, computed=True),
    "repoDigest": Field(49, computed=True),
    "keepLocally": Field(55),
    "pullTriggers": _fn(61, kind="set"),
    "forceRemove": Field(70),
    "build": Field(76, kind="set"),
    "triggers": _fn(84, kind="map"),
    "platform": _fn(90, default=""),
}

SCHEMAS = {
    "docker:index/container:Container": CONTAINER,
    "docker:index/network:Network": NETWORK,
    "docker:index/volume:Volume": VOLUME,
    "docker:index/remoteImage:RemoteImage": REMOTE_IMAGE,
}
