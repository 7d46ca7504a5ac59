"""Runs the real __main__.py under Pulumi's mocks and records what `pulumi up` would send.

Each run gets a fresh mock monitor, config and root stack. The monitor keeps the raw request
of every resource registration: type, name, parent, dependencies, options and the serialized
inputs *with their secret markers*, which MockResourceArgs strips.
"""
from __future__ import annotations

import hashlib
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks, settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
PROJECT, STACK = "credit-lab", "dev"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def generated_password(name: str) -> str:
    """What the mocked random provider returns for the RandomPassword named `name`."""
    return f"Gen{hashlib.sha256(name.encode()).hexdigest()[:28]}"


def fake_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


class LabMocks(pulumi.runtime.Mocks):
    """Echo inputs as state and fill the computed outputs the program reads (camelCase), so every
    `apply` in the program actually runs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            outputs["imageId"] = fake_digest(args.inputs["name"])
        elif args.typ == "docker:index/image:Image":
            outputs["repoDigest"] = fake_digest(args.inputs["imageName"])
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = generated_password(args.name)
        elif args.typ == "kubernetes:core/v1:Service" and (args.inputs.get("spec") or {}).get("type") == "NodePort":
            # The cluster allocates a node port per service port (30000-32767).
            outputs["spec"] = {**args.inputs["spec"], "ports": [
                {**port, "nodePort": 30000 + int(hashlib.sha256(args.name.encode()).hexdigest(), 16) % 2768}
                for port in args.inputs["spec"]["ports"]]}
        elif args.typ == "datadog:index/dashboardJson:DashboardJson":
            # The provider stores the API's Dashboard.url: the dashboard's path in the app (Datadog
            # API reference, Dashboards: "url": "/dashboard/123-abc-456/example-dashboard-title").
            outputs["url"] = f"/dashboard/abc-def-ghi/{args.name}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}, None


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    dependencies: list[str]
    delete_before_replace: bool
    replace_on_changes: list[str]
    custom_timeouts: dict  # create/update/delete as the engine gets them (e.g. {"create": "35m"})
    provider: str          # the explicit provider reference ("<urn>::<id>"), "" for the default
    raw: dict            # serialized inputs, secret markers kept
    inputs: dict         # plain inputs (what MockResourceArgs gets)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object)
            self.registrations.append(Registration(
                urn=response.urn, type=request.type, name=request.name, parent=request.parent,
                dependencies=list(request.dependencies),
                delete_before_replace=request.deleteBeforeReplace,
                replace_on_changes=list(request.replaceOnChanges),
                custom_timeouts=json_format.MessageToDict(request.customTimeouts), provider=request.provider,
                raw=raw, inputs=unwrap(raw)))
        return response


def unwrap(value: Any) -> Any:
    """The plain value of a serialized property (secret wrappers removed)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def leaks(value: Any, plaintext: str, inside_secret: bool = False, path: str = "") -> list[str]:
    """Paths where `plaintext` appears in a serialized property outside a secret wrapper."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return leaks(value.get("value"), plaintext, True, path)
        return [p for k, v in value.items() for p in leaks(v, plaintext, inside_secret, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaks(v, plaintext, inside_secret, f"{path}[{i}]")]
    if isinstance(value, str) and plaintext in value and not inside_secret:
        return [path]
    return []


@dataclass
class Output:
    value: Any
    secret: bool


@dataclass
class Run:
    resources: list[Registration]
    outputs: dict[str, Output] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registration:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, found {[r.urn for r in found]}"
        return found[0]

    def containers(self) -> dict[str, Registration]:
        """Container resources by their logical name (e.g. 'postgres-container')."""
        return {r.name: r for r in self.of_type("docker:index/container:Container")}

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


def run_program(config: dict[str, str] | None = None, secret: dict[str, str] | None = None,
                stack: str = STACK) -> Run:
    """Run __main__.py on stack `stack` with config `config` (plain) and `secret` (secret keys)."""
    mocks = LabMocks()
    monitor = RecordingMonitor(mocks)
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    all_config = {f"{PROJECT}:{k}": str(v) for k, v in {**(config or {}), **(secret or {})}.items()}
    pulumi.runtime.set_all_config(all_config, secret_keys=[f"{PROJECT}:{k}" for k in (secret or {})])

    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(MAIN), run_name="__main__")))

    run = Run(resources=monitor.registrations)
    stack = runtime_settings.get_root_resource()
    for name, value in stack.outputs.items():
        out = pulumi.Output.from_input(value)
        run.outputs[name] = Output(_sync_await(out.future()), bool(_sync_await(out.is_secret())))
    return run
