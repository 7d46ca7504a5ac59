"""A resource provider plugin the real Pulumi CLI loads as `pulumi-resource-docker` and
`pulumi-resource-random`, where those providers cannot be built (README, "Tests").

The CLI's engine drives it over gRPC as it drives the real ones: CheckConfig and Configure, then
Check, Diff, Create, Read, Update and Delete per resource, with the timeout of each, in the engine's
dependency order and parallelism, with the state written to the backend. It plans as the real
providers plan (tests/engine/provider_plan.py: the bridge's Check defaults and its Diff of the
inputs against the state, the native Image's context digest) and does on the Docker Engine what
they do (tests/engine/docker_provider.py): a create reads the resource back from Docker and the
state keeps what Docker reports; Read (refresh) reads it again, or drops it when it is gone; a
container's Update applies only its resources and restart policy; a create that fails after the
container exists reports it as an init error, which keeps it in the state. Each behaviour's source
line is in tests/CONTRACTS.md.

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
from google.protobuf import any_pb2, empty_pb2, json_format, struct_pb2
from google.rpc import status_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from tests.engine import docker_provider, docker_schema, provider_plan
from tests.unit import harness

# The Terraform resources' default create timeout (terraform-provider-docker Timeouts: 20 minutes).
DEFAULT_CREATE_TIMEOUT_S = 20 * 60
CONTAINER = provider_plan.CONTAINER
IMAGE = provider_plan.IMAGE
KINDS = {"add": provider_pb2.PropertyDiff.ADD, "add-replace": provider_pb2.PropertyDiff.ADD_REPLACE,
         "update": provider_pb2.PropertyDiff.UPDATE, "update-replace": provider_pb2.PropertyDiff.UPDATE_REPLACE,
         "delete": provider_pb2.PropertyDiff.DELETE, "delete-replace": provider_pb2.PropertyDiff.DELETE_REPLACE}
SDK_PACKAGE = {"docker": "pulumi_docker", "random": "pulumi_random", "kubernetes": "pulumi_kubernetes"}


def plugin_version(package: str) -> str:
    """The version a provider's Python SDK asks the CLI for (its pulumi-plugin.json)."""
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


def keep_secrets(original: struct_pb2.Struct, values: dict) -> dict:
    """`values` with each top-level property that was a secret in `original` wrapped as one again
    (plain() unwrapped them; the providers keep secret inputs secret in what they return)."""
    raw = json_format.MessageToDict(original)
    wrapped = {k for k, v in raw.items() if isinstance(v, dict) and v.get(harness.SECRET_SIG_KEY) == harness.SECRET_SIG}
    return {k: ({harness.SECRET_SIG_KEY: harness.SECRET_SIG, "value": v} if k in wrapped else v)
            for k, v in values.items()}


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

    def _init_failed(self, context, urn: str, failure: docker_provider.InitFailed):
        """The bridge's initializationError: the error's details carry the id and the state, so the
        engine keeps the resource with its init error (pulumi-terraform-bridge provider.go 2073-2081)."""
        detail = any_pb2.Any()
        detail.Pack(provider_pb2.ErrorResourceInitFailed(id=failure.resource_id, properties=struct(failure.state),
                                                         reasons=[f"creating {urn}: {failure}"]))
        status = status_pb2.Status(code=grpc.StatusCode.UNKNOWN.value[0], message=f"creating {urn}: {failure}",
                                   details=[detail])
        context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
        context.abort(grpc.StatusCode.UNKNOWN, status.message)

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
        type_token, news = type_of(request.urn), plain(request.news)
        try:
            if type_token == IMAGE:
                checked = provider_plan.check_image(news, docker_provider.REPO)
            elif type_token in docker_schema.SCHEMAS:
                checked = provider_plan.check_bridged(type_token, news)
            else:
                return provider_pb2.CheckResponse(inputs=request.news)
        except provider_plan.CheckFailure as failure:
            return provider_pb2.CheckResponse(inputs=request.news,
                                              failures=[provider_pb2.CheckFailure(reason=str(failure))])
        return provider_pb2.CheckResponse(inputs=struct(keep_secrets(request.news, checked)))

    def Diff(self, request, context):
        type_token = type_of(request.urn)
        olds, news = plain(request.olds), plain(request.news)
        if type_token in docker_schema.SCHEMAS:
            plan = provider_plan.diff_bridged(type_token, olds, news)
        elif type_token == IMAGE:
            plan = provider_plan.diff_image(olds.get("__inputs") or {}, news)
        else:   # terraform-provider-random: every input of a password forces a new one
            old_inputs = plain(request.old_inputs) if request.HasField("old_inputs") else olds
            plan = provider_plan.diff_image(old_inputs, news)
            plan = provider_plan.Plan({k: f"{v}-replace" for k, v in plan.changes.items()}, sorted(plan.changes), False)
        if not plan.changes:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        top = sorted({path.split(".")[0].split("[")[0] for path in plan.changes})
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME, diffs=top, replaces=plan.replaces,
            deleteBeforeReplace=plan.delete_before_replace, hasDetailedDiff=True,
            detailedDiff={path: provider_pb2.PropertyDiff(kind=KINDS[kind]) for path, kind in plan.changes.items()})

    def Create(self, request, context):
        type_token = type_of(request.urn)
        handler = docker_provider.HANDLERS.get(type_token)
        try:
            if handler is None:
                raise docker_provider.UnknownInput(f"{type_token} is not replayed by tests/engine/docker_provider.py")
            resource_id, outputs = handler(self.client, name_of(request.urn), plain(request.properties),
                                           request.timeout or DEFAULT_CREATE_TIMEOUT_S)
        except docker_provider.InitFailed as failure:
            failure.state = keep_secrets(request.properties, failure.state)
            self._init_failed(context, request.urn, failure)
        except Exception as error:  # noqa: BLE001 - reported to the engine as the create's error
            self._fail(context, error)
        return provider_pb2.CreateResponse(id=resource_id, properties=struct(keep_secrets(request.properties, outputs)))

    def Read(self, request, context):
        """Refresh: the resource read back from Docker, or gone (an empty id drops it from the state)."""
        reader = docker_provider.READERS[type_of(request.urn)]
        try:
            state = reader(self.client, request.id, plain(request.properties))
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        if state is None:
            return provider_pb2.ReadResponse(id="")
        return provider_pb2.ReadResponse(id=request.id, properties=struct(keep_secrets(request.properties, state)),
                                         inputs=request.inputs)

    def Update(self, request, context):
        type_token = type_of(request.urn)
        olds, news = plain(request.olds), plain(request.news)
        try:
            if type_token == CONTAINER:
                docker_provider.update_container(self.client, request.id, olds, news,
                                                 docker_schema.CONTAINER_UPDATE_APPLIES)
                outputs = provider_plan.planned_state(type_token, olds, news)
            elif type_token == IMAGE:
                _, outputs = docker_provider.create_image(self.client, name_of(request.urn), news,
                                                          request.timeout or DEFAULT_CREATE_TIMEOUT_S)
            elif type_token in docker_schema.SCHEMAS:
                outputs = provider_plan.planned_state(type_token, olds, news)
            else:
                outputs = {**olds, **news}
        except Exception as error:  # noqa: BLE001
            self._fail(context, error)
        return provider_pb2.UpdateResponse(properties=struct(keep_secrets(request.news, outputs)))

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
