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


def _check_inputs(kind: str, inputs: Mapping, known: set[str]) -> None:
    unknown = sorted(set(inputs) - known)
    if unknown:
        raise UnknownInput(f"{kind}: inputs {unknown} are not replayed by tests/engine/docker_provider.py; "
                           "apply them there the way the provider does before relying on them")


# ---- docker:index/network:Network (resource_docker_network_funcs.go) --------------------------------
def create_network(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    """Driver only when set, IPAM driver "default" always; the Go client adds CheckDuplicate below
    API 1.44 (network_funcs.go 26-82; moby client network_create.go)."""
    _check_inputs("Network", inputs, {"name", "driver"})
    api = client.api
    response = api.create_network(inputs["name"], driver=inputs.get("driver") or None,
                                  ipam=docker.types.IPAMConfig(driver="default"),
                                  check_duplicate=True if docker.utils.version_lt(api.api_version, "1.44") else None)
    return response["Id"], {**inputs}


# ---- docker:index/volume:Volume (resource_docker_volume_funcs.go) ----------------------------------
def create_volume(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    _check_inputs("Volume", inputs, {"name"})
    volume = client.api.create_volume(name=inputs["name"])   # Name only: the engine's `local` driver
    return volume["Name"], {**inputs, "driver": volume["Driver"], "mountpoint": volume["Mountpoint"]}


# ---- docker:index/remoteImage:RemoteImage (resource_docker_image_funcs.go) -------------------------
def create_remote_image(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    _check_inputs("RemoteImage", inputs, {"name", "keepLocally"})
    reference = inputs["name"]
    try:   # findImage: a local image of that name is used as it is, nothing is pulled
        image = client.images.get(reference)
    except docker.errors.ImageNotFound:
        try:
            image = client.images.pull(reference)
        except docker.errors.APIError as error:
            raise ProviderError(f"Unable to pull image {reference}: {error.explanation}") from error
    return f"{image.id}{reference}", {**inputs, "imageId": image.id, "repoDigest": ""}


# ---- docker:index/image:Image (pulumi-docker provider/image.go, native) ----------------------------
def create_image(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    # buildOnPreview (the SDK sends its default) only decides whether `preview` builds too.
    _check_inputs("Image", inputs, {"imageName", "build", "skipPush", "buildOnPreview"})
    build = dict(inputs.get("build") or {})
    _check_inputs("Image.build", build, {"context", "dockerfile"})
    if not inputs.get("skipPush"):
        raise UnknownInput("Image: pushing to a registry is not replayed (no registry here)")
    context = (REPO / build.get("context", ".")).resolve()
    # The provider builds with BuildKit by default; docker-py has the classic builder only, which
    # builds the workload's Dockerfile the same way (it uses no BuildKit-only instruction).
    # Sent as the provider sends it: the context without .dockerignore's matches, the platform its
    # Check fills in (linux/<arch>), the Dockerfile relative to the context. The provider sends
    # `rm=0` to BuildKit, which makes no intermediate containers; the classic builder would keep
    # one per step, so it is told to remove them.
    image, _ = client.images.build(path=str(context), dockerfile=build.get("dockerfile", "Dockerfile"),
                                            tag=inputs["imageName"], rm=True, platform=f"linux/{_go_arch()}")
    # skip_push: "We set repoDigest to the image ID returned from docker inspect" (image.go).
    return inputs["imageName"], {**inputs, "repoDigest": image.id, "baseImageName": inputs["imageName"],
                                 "context": build.get("context"), "registryServer": ""}


def _go_arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


# ---- random:index/randomPassword:RandomPassword (terraform-provider-random) ------------------------
RANDOM_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"   # the provider's default special characters


def create_random_password(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    _check_inputs("RandomPassword", inputs, {"length", "special"})
    alphabet = string.ascii_letters + string.digits + (RANDOM_SPECIAL if inputs.get("special", True) else "")
    result = "".join(secrets.choice(alphabet) for _ in range(int(inputs["length"])))
    return "none", {**inputs, "result": result}


# ---- docker:index/container:Container (resource_docker_container_funcs.go) -------------------------
CONTAINER_INPUTS = {
    "name", "image", "networksAdvanced", "memory", "restart", "logDriver", "logOpts", "ports", "entrypoints",
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
    _check_inputs("Container", inputs, CONTAINER_INPUTS)
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
        _check_inputs("Container.healthcheck", health, {"tests", "interval", "timeout", "retries", "startPeriod"})
        health = {"Test": list(health["tests"]), "Interval": _duration_ns(health.get("interval", "0s")),
                  "Timeout": _duration_ns(health.get("timeout", "0s")), "Retries": int(health.get("retries", 0)),
                  "StartPeriod": _duration_ns(health.get("startPeriod", "0s"))}
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


def create_container(client: docker.DockerClient, name: str, inputs: dict, timeout_s: float):
    """Create, join the networks, upload each file, start, wait (funcs.go 43-674); the wait is
    bounded by the resource's create timeout as well (the create's context deadline)."""
    container_id = create_unstarted(client, inputs)
    client.api.start(container_id)
    if inputs.get("wait"):
        wait_healthy(client, container_id, min(float(inputs.get("waitTimeout") or DEFAULT_WAIT_TIMEOUT_S), timeout_s))
    attrs = client.api.inspect_container(container_id)
    return container_id, {**inputs, "id": container_id, "name": inputs["name"],
                          "networkDatas": [{"networkName": net, "ipAddress": data["IPAddress"]}
                                           for net, data in attrs["NetworkSettings"]["Networks"].items()]}


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
