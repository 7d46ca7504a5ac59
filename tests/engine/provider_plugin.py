"""A resource provider plugin the real Pulumi CLI loads as `pulumi-resource-docker` and
`pulumi-resource-random`, where those providers cannot be built (README, "Tests").

The CLI's engine drives it over gRPC as it drives the real ones: CheckConfig and Configure, then
Check, Diff, Create, Update and Delete per resource, with the create timeout of each resource, in
the engine's dependency order and parallelism, with the state written to the backend. Each call
does on the Docker Engine what the real provider does (tests/engine/docker_provider.py). Diff
follows the providers' schemas: a container field changes by replacement (deleted first: the
provider sets DeleteBeforeReplace on docker_container), except the fields kreuzwerker's Update
applies in place (restart and memory); a built Image is rebuilt in place; a RandomPassword is
replaced when any of its inputs changes.

Run as `python -m tests.engine.provider_plugin docker|random ENGINE_ADDRESS` (the CLI passes the
address); it prints the port it serves on, as plugins do.
"""
from __future__ import annotations

import json
import sys
from concurrent import futures
from importlib import resources
from typing import Any

import docker
import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from tests.engine import docker_provider
from tests.unit import harness

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# The Terraform resources' default create timeout (terraform-provider-docker Timeouts: 20 minutes).
DEFAULT_CREATE_TIMEOUT_S = 20 * 60
CONTAINER = "docker:index/container:Container"
UPDATABLE = {
    # resourceDockerContainerUpdate applies these with ContainerUpdate (funcs.go 991-1077).
    CONTAINER: {"restart", "memory"},
    "docker:index/remoteImage:RemoteImage": {"keepLocally"},
    "docker:index/image:Image": {"imageName", "build", "skipPush", "buildOnPreview"},
}
SDK_PACKAGE = {"docker": "pulumi_docker", "random": "pulumi_random"}


def plugin_version(package: str) -> str:
    """The version the Python SDK asks the CLI for (its pulumi-plugin.json)."""
    return json.loads(resources.files(SDK_PACKAGE[package]).joinpath("pulumi-plugin.json").read_text())["version"]


def plain(struct: struct_pb2.Struct) -> dict:
    """A property map as plain values: secrets unwrapped, whole numbers as ints (the protocol's
    numbers are doubles; the providers' schemas type these as integers)."""
    def whole(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: whole(v) for k, v in value.items()}
        if isinstance(value, list):
            return [whole(v) for v in value]
        return int(value) if isinstance(value, float) and value.is_integer() else value
    return whole(harness.unwrap(json_format.MessageToDict(struct)))


def struct(values: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def type_of(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<parent types$>type::<name> -> type."""
    return urn.split("::")[2].split("$")[-1]


def name_of(urn: str) -> str:
    return urn.split("::")[3]


class Provider(provider_pb2_grpc.ResourceProviderServicer):
    def __init__(self, package: str):
        self.package = package
        self.client = docker.from_env(timeout=600) if package == "docker" else None

    def _fail(self, context, error: Exception):
        context.abort(grpc.StatusCode.UNKNOWN, str(error))

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=plugin_version(self.package))

    def GetSchema(self, request, context):
        return provider_pb2.GetSchemaResponse(schema="{}")

    def CheckConfig(self, request, context):
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request, context):
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(self, request, context):
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=False)

    def Check(self, request, context):
        return provider_pb2.CheckResponse(inputs=request.news)

    def Diff(self, request, context):
        type_token = type_of(request.urn)
        olds = plain(request.old_inputs) if request.HasField("old_inputs") else plain(request.olds)
        news = plain(request.news)
        changed = sorted(key for key in set(olds) | set(news)
                         if olds.get(key) != news.get(key) or UNKNOWN in json.dumps(news.get(key)))
        if not changed:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        replaces = [key for key in changed if key not in UPDATABLE.get(type_token, set())]
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_SOME, diffs=changed,
                                         replaces=replaces, deleteBeforeReplace=type_token == CONTAINER)

    def Create(self, request, context):
        type_token = type_of(request.urn)
        handler = docker_provider.HANDLERS.get(type_token)
        try:
            if handler is None:
                raise docker_provider.UnknownInput(f"{type_token} is not replayed by tests/engine/docker_provider.py")
            resource_id, outputs = handler(self.client, name_of(request.urn), plain(request.properties),
                                           request.timeout or DEFAULT_CREATE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - reported to the engine as the create's error
            self._fail(context, error)
        return provider_pb2.CreateResponse(id=resource_id, properties=struct(outputs))

    def Read(self, request, context):
        return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)

    def Update(self, request, context):
        type_token = type_of(request.urn)
        olds, news = plain(request.olds), plain(request.news)
        try:
            if type_token == CONTAINER:
                self.client.api.update_container(request.id, mem_limit=news["memory"] * docker_provider.MB
                                                 if news.get("memory") else None,
                                                 restart_policy={"Name": news.get("restart", "no")})
                outputs = {**olds, **news}
            elif type_token == "docker:index/image:Image":
                _, outputs = docker_provider.create_image(self.client, name_of(request.urn), news,
                                                          request.timeout or DEFAULT_CREATE_TIMEOUT_S)
            else:
                outputs = {**olds, **news}
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return provider_pb2.UpdateResponse(properties=struct(outputs))

    def Delete(self, request, context):
        try:
            if self.client is not None:
                docker_provider.delete(self.client, type_of(request.urn), request.id)
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return empty_pb2.Empty()

    def Cancel(self, request, context):
        return empty_pb2.Empty()


def main(argv: list[str]) -> int:
    package = argv[0]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(Provider(package), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
