"""What pulumi-docker's and pulumi-random's providers do on the Docker Engine, as Python.

The Pulumi CLI builds here, but those two providers' Go modules are not served by the module proxy
(README, "Tests"), so tests/engine/provider_plugin.py stands in for them: the real CLI loads it as
`pulumi-resource-docker` and `pulumi-resource-random`, and it makes each resource through this
module, with the Docker API calls the provider makes and the outputs it returns (sources in
tests/CONTRACTS.md). An input this module does not know fails the create instead of being dropped.

Sources: kreuzwerker/terraform-provider-docker v4.5.0 (bundled by pulumi-docker 5.x),
`internal/provider/resource_docker_{container,image,network,volume}_funcs.go`; pulumi-docker
`provider/image.go` (the native docker.Image); terraform-provider-random `resource_password.go`.
"""
from __future__ import annotations

import io
import os
import secrets
import string
import tarfile
import time
from pathlib import Path
from typing import Callable, Mapping

import docker

from tests.engine import docker_schema
from tests.unit import harness

REPO = Path(__file__).resolve().parents[2]
# pulumi-docker's `wait` polls the container's health once a second (funcs.go, the wait loop).
HEALTH_POLL_S = 1.0
DEFAULT_WAIT_TIMEOUT_S = 60


class UnknownInput(Exception):
    """The program set an input this replay does not apply: the test must fail, not drop it."""


class ProviderError(Exception):
    """What the provider would report as the resource's create error."""


def _duration_ns(text: str) -> int:
    """A Go duration such as "10s", "1m30s", "500ms" in nanoseconds (healthcheck fields)."""
    units = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
    total, number = 0, ""
    rest = text
    while rest:
        digits = len(rest) - len(rest.lstrip("0123456789."))
        number, rest = rest[:digits], rest[digits:]
        unit = next(u for u in ("ns", "us", "ms", "h", "m", "s") if rest.startswith(u))
        total += int(float(number) * units[unit])
        rest = rest[len(unit):]
    return total


def _check_inputs(kind: str, inputs: Mapping, known: set[str], schema: Mapping | None = None) -> None:
    """Every input is one this replay applies, or holds the schema default the bridge's Check wrote
    in (which is what the provider does when it is left out)."""
    defaults = {name: f.default for name, f in (schema or {}).items() if f.default is not None}
    unknown = sorted(k for k in set(inputs) - set(known) if not (k in defaults and inputs[k] == defaults[k]))
    if unknown:
        raise UnknownInput(f"{kind}: inputs {unknown} are not replayed by tests/engine/docker_provider.py; "
                           "apply them there the way the provider does before relying on them")


# ---- docker:index/network:Network (resource_docker_network_funcs.go) --------------------------------
def create_network(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    """Driver only when set, IPAM driver "default" always; the Go client adds CheckDuplicate below
    API 1.44 (network_funcs.go 26-82; moby client network_create.go)."""
    _check_inputs("Network", inputs, {"name", "driver"}, docker_schema.NETWORK)
    api = client.api
    response = api.create_network(inputs["name"], driver=inputs.get("driver") or None,
                                  ipam=docker.types.IPAMConfig(driver="default"),
                                  check_duplicate=True if docker.utils.version_lt(api.api_version, "1.44") else None)
    return response["Id"], read_network(client, response["Id"], {**inputs, "id": response["Id"]})


# ---- docker:index/volume:Volume (resource_docker_volume_funcs.go) ----------------------------------
def create_volume(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    _check_inputs("Volume", inputs, {"name"}, docker_schema.VOLUME)
    volume = client.api.create_volume(name=inputs["name"])   # Name only: the engine's `local` driver
    return volume["Name"], read_volume(client, volume["Name"], {**inputs, "id": volume["Name"]})


# ---- docker:index/remoteImage:RemoteImage (resource_docker_image_funcs.go) -------------------------
def create_remote_image(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    _check_inputs("RemoteImage", inputs, {"name", "keepLocally"}, docker_schema.REMOTE_IMAGE)
    reference = inputs["name"]
    try:   # findImage: a local image of that name is used as it is, nothing is pulled
        image = client.images.get(reference)
    except docker.errors.ImageNotFound:
        try:
            image = client.images.pull(reference)
        except docker.errors.APIError as error:
            raise ProviderError(f"Unable to pull image {reference}: {error.explanation}") from error
    return f"{image.id}{reference}", read_remote_image(client, f"{image.id}{reference}", dict(inputs))


# ---- docker:index/image:Image (pulumi-docker provider/image.go, native) ----------------------------
def create_image(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    """dockerBuild (image.go 88-360) for skip_push, on the inputs Check completed
    (provider_plan.check_image); the state is the outputs plus the inputs under `__inputs`, a
    secret (provider.go checkpointObject 524-530), which the next Diff compares against."""
    # buildOnPreview only decides whether `preview` builds too.
    _check_inputs("Image", inputs, {"imageName", "build", "skipPush", "buildOnPreview"})
    build = dict(inputs.get("build") or {})
    _check_inputs("Image.build", build, {"context", "dockerfile", "contextDigest", "platform"})
    if not inputs.get("skipPush"):
        raise UnknownInput("Image: pushing to a registry is not replayed (no registry here)")
    context = (REPO / build["context"]).resolve()
    dockerfile = os.path.relpath(REPO / build["dockerfile"], context)
    # The provider builds with BuildKit by default; docker-py has the classic builder only, which
    # builds the workload's Dockerfile the same way (it uses no BuildKit-only instruction).
    # Sent as the provider sends it: the context without .dockerignore's matches, the platform its
    # Check filled in, the Dockerfile relative to the context. The provider sends `rm=0` to
    # BuildKit, which makes no intermediate containers; the classic builder would keep one per
    # step, so it is told to remove them.
    image, _ = client.images.build(path=str(context), dockerfile=dockerfile, tag=inputs["imageName"], rm=True,
                                   platform=build["platform"])
    # skip_push: "We set repoDigest to the image ID returned from docker inspect" (image.go 286-299).
    outputs = {"dockerfile": dockerfile, "context": build["context"], "baseImageName": inputs["imageName"],
               "registryServer": "", "imageName": inputs["imageName"], "platform": build["platform"],
               "repoDigest": image.id}
    return inputs["imageName"], {**outputs, "__inputs": {harness.SECRET_SIG_KEY: harness.SECRET_SIG, "value": inputs}}


# ---- random:index/randomPassword:RandomPassword (terraform-provider-random) ------------------------
RANDOM_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"   # the provider's default special characters


def create_random_password(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    _check_inputs("RandomPassword", inputs, {"length", "special"})
    alphabet = string.ascii_letters + string.digits + (RANDOM_SPECIAL if inputs.get("special", True) else "")
    result = "".join(secrets.choice(alphabet) for _ in range(int(inputs["length"])))
    return "none", {**inputs, "result": result}


# ---- docker:index/container:Container (resource_docker_container_funcs.go) -------------------------
CONTAINER_INPUTS = {
    "name", "image", "networksAdvanced", "memory", "memorySwap", "restart", "logDriver", "logOpts", "ports", "entrypoints",
    "command", "envs", "uploads", "volumes", "healthcheck", "wait", "waitTimeout", "shmSize", "labels",
    "stopSignal", "stopTimeout", "cgroupnsMode", "pidMode",
}
MB = 1024 * 1024


def _upload_tar(upload: Mapping) -> bytes:
    """One upload as the provider sends it: a one-entry tar named as `file` is given, uid/gid 0,
    ModTime now (whole seconds), mode `permissions` (octal) else 0744 with `executable` else 0644."""
    _check_inputs("Container.uploads", upload, {"file", "content", "permissions", "executable"})
    data = upload["content"].encode()
    mode = int(upload["permissions"], 8) if upload.get("permissions") else (0o744 if upload.get("executable") else 0o644)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        entry = tarfile.TarInfo(upload["file"])
        entry.size, entry.mode, entry.uid, entry.gid, entry.mtime = len(data), mode, 0, 0, int(round(time.time()))
        tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def _copy_to_container(api: docker.APIClient, container_id: str, archive: bytes) -> None:
    """CopyToContainer(id, "/", …, {}): PUT /containers/{id}/archive?path=/&noOverwriteDirNonDir=true
    (docker-py's put_archive cannot send the second parameter)."""
    response = api._put(api._url("/containers/{0}/archive", container_id),
                        params={"path": "/", "noOverwriteDirNonDir": "true"}, data=archive)
    api._raise_for_status(response)


def _binds(volumes: list) -> list[str]:
    """volumes -> HostConfig.Binds "<source>:<container_path>:rw|ro" (host_path wins over volume_name)."""
    binds = []
    for volume in volumes:
        _check_inputs("Container.volumes", volume, {"volumeName", "hostPath", "containerPath", "readOnly"})
        source = volume.get("hostPath") or volume["volumeName"]
        binds.append(f"{source}:{volume['containerPath']}:{'ro' if volume.get('readOnly') else 'rw'}")
    return binds


def container_spec(client: docker.DockerClient, inputs: dict) -> dict:
    """The create request (keyword arguments of docker-py's APIClient.create_container), as
    resourceDockerContainerCreate builds it (funcs.go 69-456)."""
    _check_inputs("Container", inputs, CONTAINER_INPUTS, docker_schema.CONTAINER)
    api = client.api
    ports = inputs.get("ports") or []
    for port in ports:
        _check_inputs("Container.ports", port, {"internal", "external", "ip", "protocol"})
    volumes = inputs.get("volumes") or []
    host_config = api.create_host_config(
        port_bindings={f"{p['internal']}/{p.get('protocol', 'tcp')}": (p.get("ip", "0.0.0.0"), p["external"])
                       for p in ports},
        binds=_binds(volumes),
        mem_limit=int(inputs["memory"]) * MB if inputs.get("memory") else None,
        # memory_swap in MB, -1 (unlimited) passed as it is (funcs.go 342-348)
        memswap_limit=(int(inputs["memorySwap"]) * MB if inputs["memorySwap"] > 0 else int(inputs["memorySwap"]))
        if inputs.get("memorySwap") else None,
        restart_policy={"Name": inputs.get("restart", "no"), "MaximumRetryCount": 0},
        log_config={"Type": inputs.get("logDriver", ""), "Config": dict(inputs.get("logOpts") or {})},
        shm_size=int(inputs["shmSize"]) * MB if inputs.get("shmSize") else None,
        # network_mode defaults to "bridge"; networks_advanced are connected after create.
        network_mode="bridge",
        cgroupns=inputs.get("cgroupnsMode"),
        pid_mode=inputs.get("pidMode"),
        init=False,
    )
    health = inputs.get("healthcheck")
    if health:
        _check_inputs("Container.healthcheck", health,
                      {"tests", "interval", "timeout", "retries", "startPeriod", "startInterval"})
        health = {"Test": list(health["tests"]), "Interval": _duration_ns(health.get("interval", "0s")),
                  "Timeout": _duration_ns(health.get("timeout", "0s")), "Retries": int(health.get("retries", 0)),
                  "StartPeriod": _duration_ns(health.get("startPeriod", "0s"))}
        # StartInterval came with API 1.44 (Docker 25); an older daemon knows no such field and
        # reports none, so it is sent only where it would be kept.
        if not docker.utils.version_lt(api.api_version, "1.44"):
            health["StartInterval"] = _duration_ns(dict(inputs["healthcheck"]).get("startInterval", "0s"))
    return dict(
        image=inputs["image"], name=inputs["name"], command=inputs.get("command"),
        entrypoint=inputs.get("entrypoints"), environment=list(inputs.get("envs") or []),
        labels={label["label"]: label["value"] for label in inputs.get("labels") or []},
        ports=[(p["internal"], p.get("protocol", "tcp")) for p in ports] or None,
        volumes=[v["containerPath"] for v in volumes] or None,
        host_config=host_config, healthcheck=health, stop_signal=inputs.get("stopSignal"),
        stop_timeout=int(inputs["stopTimeout"]) if inputs.get("stopTimeout") else None,
        use_config_proxy=False,
    )


def connect_networks(api: docker.APIClient, container_id: str, networks: list) -> None:
    """networks_advanced (funcs.go 462-503): leave the default bridge, join each network with its aliases."""
    try:
        api.disconnect_container_from_network(container_id, "bridge")
    except docker.errors.APIError as error:
        if "is not connected to the network" not in str(error):
            raise
    for network in networks:
        _check_inputs("Container.networksAdvanced", network, {"name", "aliases"})
        api.connect_container_to_network(container_id, network["name"], aliases=list(network.get("aliases") or []))


# The one liberty taken: the provider polls a container that has stopped for good until
# wait_timeout (30 minutes for PostgreSQL) and then reports "container failed to be in healthy
# state"; here a container that has been down, not restarting, for this long fails the wait at once.
GIVE_UP_WHEN_DOWN_S = 10


def wait_healthy(client: docker.DockerClient, container_id: str, timeout_s: float) -> None:
    """`wait`: inspect once a second until Health.Status is healthy (funcs.go 584-621)."""
    deadline, down_since = time.monotonic() + timeout_s, None
    while True:
        state = client.api.inspect_container(container_id)["State"]
        if state.get("Health") is None:
            raise ProviderError("you have supplied a 'wait' argument, but the container does not have a "
                                "healthcheck defined")
        if state["Health"].get("Status") == "healthy":
            return
        down = not state.get("Running") and not state.get("Restarting")
        down_since = (down_since or time.monotonic()) if down else None
        if time.monotonic() > deadline or (down_since and time.monotonic() - down_since > GIVE_UP_WHEN_DOWN_S):
            logs = client.api.logs(container_id, tail=20).decode(errors="replace")
            raise ProviderError(f"container failed to be in healthy state (running: {state.get('Running')}, "
                                f"exit code {state.get('ExitCode')}); its last log lines:\n{logs}")
        time.sleep(HEALTH_POLL_S)


def create_unstarted(client: docker.DockerClient, inputs: dict) -> str:
    """Create, join the networks, upload each file: what the provider does before ContainerStart.
    The component tests make their containers through this too (tests/integration/containers.py)."""
    container_id = client.api.create_container(**container_spec(client, inputs))["Id"]
    connect_networks(client.api, container_id, inputs.get("networksAdvanced") or [])
    for upload in inputs.get("uploads") or []:
        _copy_to_container(client.api, container_id, _upload_tar(upload))
    return container_id


class InitFailed(ProviderError):
    """A create that failed after the container existed: the bridge reports it with the resource's
    id and the state so far (pulumi-terraform-bridge provider.go Create 1309-1417,
    `initializationError`), and the engine keeps the resource in the state with `initErrors`."""

    def __init__(self, message: str, resource_id: str, state: dict):
        super().__init__(message)
        self.resource_id, self.state = resource_id, state


def create_container(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    """Create, join the networks, upload each file, start, wait (funcs.go 43-674); the wait is
    bounded by the resource's create timeout as well (the create's context deadline). The ID is set
    right after ContainerCreate (funcs.go 460), so any later failure leaves the container in the
    state; a create that succeeds ends with Read (funcs.go 673), whose values the state keeps."""
    container_id = client.api.create_container(**container_spec(client, inputs))["Id"]
    try:
        connect_networks(client.api, container_id, inputs.get("networksAdvanced") or [])
        for upload in inputs.get("uploads") or []:
            _copy_to_container(client.api, container_id, _upload_tar(upload))
        try:
            client.api.start(container_id)
        except docker.errors.APIError as error:
            raise ProviderError(f"Unable to start container: {error}") from error
        if inputs.get("wait"):
            wait_healthy(client, container_id, min(float(inputs.get("waitTimeout") or DEFAULT_WAIT_TIMEOUT_S),
                                                   timeout_s))
    except Exception as error:   # noqa: BLE001 - every failure after the ID is an init error
        raise InitFailed(str(error), container_id, {**inputs, "id": container_id}) from error
    return container_id, read_container(client, container_id, {**inputs, "id": container_id})


# ---- Read: what each resource's state holds after create and after refresh -------------------------
# Go's time.Duration.String() (the healthcheck's durations as the provider reads them back).
def go_duration_string(ns: int) -> str:
    sign, u = ("-" if ns < 0 else ""), abs(int(ns))
    if u == 0:
        return "0s"

    def frac(value: int, precision: int) -> str:
        whole, rest = divmod(value, 10 ** precision)
        digits = str(rest).rjust(precision, "0").rstrip("0")
        return f"{whole}.{digits}" if digits else str(whole)
    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{frac(u, 3)}\u00b5s"
    if u < 1_000_000_000:
        return f"{sign}{frac(u, 6)}ms"
    seconds, nanos = divmod(u, 1_000_000_000)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = frac(secs * 1_000_000_000 + nanos, 9) + "s"
    if seconds >= 60:
        text = f"{minutes}m{text}"
    if seconds >= 3600:
        text = f"{hours}h{text}"
    return sign + text


def _port_key(key: str) -> tuple:
    number, _, protocol = key.partition("/")
    return int(number), protocol


def _flatten_ports(port_map: dict | None) -> list[dict]:
    """flattenContainerPorts (resource_docker_container_structures.go 35-59): one entry per binding,
    sorted by port and protocol."""
    out = []
    for key in sorted(port_map or {}, key=_port_key):
        for binding in port_map[key] or []:
            number, protocol = _port_key(key)
            out.append({"internal": number, "external": int(binding.get("HostPort") or 0),
                        "ip": binding.get("HostIp", ""), "protocol": protocol})
    return out


def read_container(client: docker.DockerClient, container_id: str, state: dict) -> dict | None:
    """resourceDockerContainerRead (funcs.go 750-981) on `state`: None when no container has that ID
    (the ID cleared, 769-773: refresh drops it); else the state with what Read sets from the inspect.
    Env, labels, uploads, volumes and networks are not read back (funcs.go 866-871)."""
    if not any(c["Id"] == container_id for c in client.api.containers(all=True)):
        return None
    attrs = client.api.inspect_container(container_id)
    config, host, network, running = attrs["Config"], attrs["HostConfig"], attrs.get("NetworkSettings"), \
        attrs["State"]["Running"]
    state = dict(state)
    if network is not None:
        state["bridge"] = network.get("Bridge", "")
        if (running or state.get("mustRun")) and state.get("ports"):
            state["ports"] = _flatten_ports(network.get("Ports"))
        state["networkDatas"] = [{"networkName": name, "ipAddress": data.get("IPAddress", ""),
                                  "ipPrefixLength": data.get("IPPrefixLen", 0), "gateway": data.get("Gateway", ""),
                                  "macAddress": data.get("MacAddress", "")}
                                 for name, data in (network.get("Networks") or {}).items()]
    if not running:
        state["exitCode"] = attrs["State"]["ExitCode"]
        if state.get("mustRun"):
            state["mustRun"] = False       # drift that plans an update, which starts it (991-1009)
    state["id"] = attrs["Id"]
    state["name"] = attrs["Name"].lstrip("/")
    state["rm"], state["readOnly"] = host.get("AutoRemove", False), host.get("ReadonlyRootfs", False)
    state["image"] = attrs["Image"] if str(state.get("image", "")).startswith("sha256:") else config["Image"]
    state.update(hostname=config.get("Hostname", ""), domainname=config.get("Domainname", ""),
                 command=config.get("Cmd") or [], entrypoints=config.get("Entrypoint") or [],
                 user=config.get("User", ""), dns=host.get("Dns") or [], dnsOpts=host.get("DnsOptions") or [],
                 securityOpts=host.get("SecurityOpt") or [], dnsSearches=host.get("DnsSearch") or [],
                 publishAllPorts=host.get("PublishAllPorts", False),
                 restart=(host.get("RestartPolicy") or {}).get("Name", ""),
                 maxRetryCount=(host.get("RestartPolicy") or {}).get("MaximumRetryCount", 0),
                 init=bool(host.get("Init")), workingDir=config.get("WorkingDir", ""),
                 runtime=host.get("Runtime", ""), platform=attrs.get("Platform", ""),
                 mounts=[{"target": m.get("Target"), "source": m.get("Source"), "type": m.get("Type"),
                          "readOnly": m.get("ReadOnly", False)} for m in host.get("Mounts") or []],
                 tmpfs=host.get("Tmpfs") or {},
                 hosts=[dict(zip(("host", "ip"), h.split(":", 1))) for h in host.get("ExtraHosts") or []],
                 privileged=host.get("Privileged", False))
    if host.get("CapAdd") or host.get("CapDrop"):
        state["capabilities"] = {"adds": host.get("CapAdd") or [], "drops": host.get("CapDrop") or []}
    for key, field in (("deviceReadBps", "BlkioDeviceReadBps"), ("deviceReadIops", "BlkioDeviceReadIOps"),
                       ("deviceWriteBps", "BlkioDeviceWriteBps"), ("deviceWriteIops", "BlkioDeviceWriteIOps")):
        state[key] = [{"path": d["Path"], "rate": d["Rate"]} for d in host.get(field) or []]
    state["memory"] = host.get("Memory", 0) // MB
    reservation, swap = host.get("MemoryReservation", 0), host.get("MemorySwap", 0)
    state["memoryReservation"] = reservation // MB if reservation > 0 else reservation
    state["memorySwap"] = swap // MB if swap > 0 else swap
    state["shmSize"] = host.get("ShmSize", 0) // MB
    if host.get("NanoCpus", 0) > 0:
        state["cpus"] = f"{host['NanoCpus'] / 1e9:g}"
    state.update(cpuShares=host.get("CpuShares", 0), cpuSet=host.get("CpusetCpus", ""),
                 logDriver=(host.get("LogConfig") or {}).get("Type", ""),
                 storageOpts=host.get("StorageOpt") or {}, networkMode=host.get("NetworkMode", ""),
                 usernsMode=host.get("UsernsMode", ""), sysctls=host.get("Sysctls") or {},
                 ipcMode=host.get("IpcMode", ""), groupAdds=host.get("GroupAdd") or [],
                 tty=config.get("Tty", False), stdinOpen=config.get("OpenStdin", False),
                 stopSignal=config.get("StopSignal", ""), stopTimeout=config.get("StopTimeout") or 0)
    if state.get("logOpts"):                       # containerLogOptsForState: only when configured
        state["logOpts"] = (host.get("LogConfig") or {}).get("Config") or {}
    if state.get("pidMode"):
        state["pidMode"] = host.get("PidMode", "")
    health = config.get("Healthcheck")
    if health is not None:
        state["healthcheck"] = {"tests": health.get("Test") or [],
                                "interval": go_duration_string(health.get("Interval", 0)),
                                "timeout": go_duration_string(health.get("Timeout", 0)),
                                "startPeriod": go_duration_string(health.get("StartPeriod", 0)),
                                "startInterval": go_duration_string(health.get("StartInterval", 0)),
                                "retries": health.get("Retries", 0)}
    return state


def read_network(client: docker.DockerClient, network_id: str, state: dict) -> dict | None:
    """resourceDockerNetworkReadRefreshFunc (resource_docker_network_funcs.go 160-203)."""
    try:
        found = client.api.inspect_network(network_id)
    except docker.errors.NotFound:
        return None
    ipam = found.get("IPAM") or {}
    return {**state, "name": found["Name"], "labels": [{"label": k, "value": v} for k, v in
                                                       sorted((found.get("Labels") or {}).items())],
            "driver": found.get("Driver", ""), "internal": found.get("Internal", False),
            "attachable": found.get("Attachable", False), "ingress": found.get("Ingress", False),
            "ipv6": found.get("EnableIPv6", False), "ipamDriver": ipam.get("Driver", ""),
            "ipamOptions": ipam.get("Options") or {}, "scope": found.get("Scope", ""),
            "options": found.get("Options") or {},
            "ipamConfigs": [{"subnet": c.get("Subnet", ""), "gateway": c.get("Gateway", ""),
                             "ipRange": c.get("IPRange", ""), "auxAddress": c.get("AuxiliaryAddresses") or {}}
                            for c in ipam.get("Config") or []]}


def read_volume(client: docker.DockerClient, volume_id: str, state: dict) -> dict | None:
    """resourceDockerVolumeRead (resource_docker_volume.go 288-360)."""
    try:
        found = client.api.inspect_volume(volume_id)
    except docker.errors.NotFound:
        return None
    return {**state, "name": found["Name"], "driver": found.get("Driver", ""),
            "labels": [{"label": k, "value": v} for k, v in sorted((found.get("Labels") or {}).items())],
            "driverOpts": found.get("Options") or {}, "mountpoint": found.get("Mountpoint", "")}


def read_remote_image(client: docker.DockerClient, resource_id: str, state: dict) -> dict | None:
    """resourceDockerImageRead (resource_docker_image_funcs.go 103-132): the local image of that name,
    else the ID cleared."""
    try:
        image = client.images.get(state["name"])
    except docker.errors.ImageNotFound:
        return None
    digests = image.attrs.get("RepoDigests") or []
    return {**state, "id": f"{image.id}{state['name']}", "imageId": image.id,
            "repoDigest": digests[0] if digests else ""}


def read_as_stored(client: docker.DockerClient, resource_id: str, state: dict) -> dict:
    """The native Image (provider.go Read 415-426: "we do no reconciliation") and RandomPassword."""
    return state


READERS: dict[str, Callable] = {
    "docker:index/container:Container": read_container,
    "docker:index/network:Network": read_network,
    "docker:index/volume:Volume": read_volume,
    "docker:index/remoteImage:RemoteImage": read_remote_image,
    "docker:index/image:Image": read_as_stored,
    "random:index/randomPassword:RandomPassword": read_as_stored,
}


# ---- Update: what the container's in-place update applies (funcs.go 991-1077) ----------------------
def update_container(client: docker.DockerClient, container_id: str, olds: dict, news: dict,
                     applies: tuple[str, ...]) -> None:
    """must_run false -> true starts the container; a change of any of `applies` sends
    ContainerUpdate with the resources and the restart policy (once); nothing else reaches Docker."""
    if not olds.get("mustRun") and news.get("mustRun") and news.get("start", True):
        client.api.start(container_id)
    if any(olds.get(key) != news.get(key) for key in applies):
        swap = news.get("memorySwap") or 0
        client.api.update_container(
            container_id, mem_limit=int(news.get("memory") or 0) * MB,
            mem_reservation=int(news.get("memoryReservation") or 0) * MB,
            memswap_limit=swap * MB if swap > 0 else (swap or None),
            cpu_shares=int(news.get("cpuShares") or 0) or None, cpuset_cpus=news.get("cpuSet") or None,
            restart_policy={"Name": news.get("restart", "no"), "MaximumRetryCount": int(news.get("maxRetryCount") or 0)})


HANDLERS: dict[str, Callable] = {
    "docker:index/network:Network": create_network,
    "docker:index/volume:Volume": create_volume,
    "docker:index/remoteImage:RemoteImage": create_remote_image,
    "docker:index/image:Image": create_image,
    "docker:index/container:Container": create_container,
    "random:index/randomPassword:RandomPassword": create_random_password,
}


# ---- delete, in reverse creation order (what `pulumi destroy` asks of each provider) ---------------
# Volume and network deletes retry for 30 s, at least 5 s apart (StateChangeConf Timeout, MinTimeout).
DELETE_RETRY_S, DELETE_RETRY_POLL_S = 30, 5


def delete(client: docker.DockerClient, type_token: str, resource_id: str) -> None:
    api = client.api
    try:
        if type_token == "docker:index/container:Container":
            # ContainerStop with t = destroy_grace_seconds, 0 when unset (the container's
            # stop_timeout is not used), then ContainerRemove(v=1, force=1) (funcs.go 1079-1131).
            api.stop(resource_id, timeout=0)
            api.remove_container(resource_id, v=True, force=True)
        elif type_token == "docker:index/volume:Volume":
            _retry(lambda: api.remove_volume(resource_id, force=True), "volume is in use")
        elif type_token == "docker:index/network:Network":
            _retry(lambda: api.remove_network(resource_id), "has active endpoints")
        # RemoteImage keep_locally=True, the built Image (Delete is a no-op) and RandomPassword
        # leave nothing on the engine.
    except docker.errors.NotFound:
        pass


def _retry(action: Callable, retry_on: str) -> None:
    deadline = time.monotonic() + DELETE_RETRY_S
    while True:
        try:
            return action()
        except docker.errors.APIError as error:
            if retry_on not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(DELETE_RETRY_POLL_S)
