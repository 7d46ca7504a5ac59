"""The stand-in's model of how the real docker provider plans (tests/engine/provider_plan.py), case
by case against the source it cites. These are the rules the real-lab tests then meet on the engine."""
import re
from pathlib import Path

import pulumi_docker
import pytest

from tests.engine import docker_schema, provider_plan

CONTAINER = "docker:index/container:Container"
SDK = Path(pulumi_docker.__file__).parent


def _sdk_names(module: str, cls: str) -> set[str]:
    text = (SDK / module).read_text()
    body = text[text.index(f"class {cls}("):]
    body = body[:body.index("\nclass ", 1)] if "\nclass " in body[1:] else body
    return {name or python for name, python in
            re.findall(r'@pulumi\.getter(?:\(name="(\w+)"\))?\n    def (\w+)\(self\)', body)}


@pytest.mark.parametrize("type_token,module,cls", [
    (CONTAINER, "container.py", "Container"), ("docker:index/network:Network", "network.py", "Network"),
    ("docker:index/volume:Volume", "volume.py", "Volume"),
    ("docker:index/remoteImage:RemoteImage", "remote_image.py", "RemoteImage")])
def test_schema_names_are_the_sdks(type_token, module, cls):
    names = _sdk_names(module, cls)
    assert names, f"no getters read from {module}"
    unknown = set(docker_schema.SCHEMAS[type_token]) - names
    assert not unknown, f"{type_token}: {sorted(unknown)} are not properties of pulumi_docker.{cls}"


def _state(**fields):
    """A container's state as Read leaves it: the checked inputs plus what Docker reported (Read
    always sets command, entrypoint and network_data, funcs.go 780-831)."""
    base = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64})
    return {**base, "command": ["run"], "entrypoints": [], "networkDatas": [{"networkName": "n"}], **fields}


def test_a_swap_docker_filled_in_is_planned_away():
    olds = _state(memorySwap=128)
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64})
    plan = provider_plan.diff_bridged(CONTAINER, olds, news)
    assert plan.changes == {"memorySwap": "delete"} and plan.replaces == []


def test_a_declared_swap_equal_to_what_docker_reports_plans_nothing():
    olds = _state(memorySwap=64)
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64, "memorySwap": 64})
    assert provider_plan.diff_bridged(CONTAINER, olds, news).changes == {}


def test_a_duration_in_another_form_is_a_change_in_place():
    health = {"tests": ["CMD", "true"], "interval": "5s", "timeout": "5s", "retries": 3, "startInterval": "0s"}
    olds = _state(healthcheck={**health, "startPeriod": "30m0s"})
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64,
                                                   "healthcheck": {**health, "startPeriod": "1800s"}})
    plan = provider_plan.diff_bridged(CONTAINER, olds, news)
    assert plan.changes == {"healthcheck.startPeriod": "update"} and plan.replaces == []


def test_computed_fields_left_out_plan_nothing():
    olds = _state(hostname="abc", command=["postgres"], shmSize=64, stopSignal="SIGINT", ipcMode="private",
                  securityOpts=["x"], cpuShares=0, dns=[], maxRetryCount=0)
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64})
    assert provider_plan.diff_bridged(CONTAINER, olds, news).changes == {}


def test_a_forcenew_change_replaces_and_deletes_first():
    olds = _state(envs=["A=1", "B=2"])
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64, "envs": ["A=1", "B=3"]})
    plan = provider_plan.diff_bridged(CONTAINER, olds, news)
    assert plan.changes == {"envs": "update-replace"} and plan.replaces == ["envs"] and plan.delete_before_replace


def test_a_set_compares_without_order():
    olds = _state(envs=["A=1", "B=2"])
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64, "envs": ["B=2", "A=1"]})
    assert provider_plan.diff_bridged(CONTAINER, olds, news).changes == {}


def test_memory_changes_in_place():
    olds = _state()
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 128})
    plan = provider_plan.diff_bridged(CONTAINER, olds, news)
    assert plan.changes == {"memory": "update"} and not plan.replaces
    assert "memory" in docker_schema.CONTAINER_UPDATE_APPLIES


def test_ports_read_back_with_a_second_binding_are_a_replacement():
    """Read reports every binding Docker made (flattenContainerPorts); one more than declared is a change."""
    port = {"internal": 5432, "external": 15432, "ip": "0.0.0.0", "protocol": "tcp"}
    olds = _state(ports=[port, {**port, "ip": "::"}])
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64, "ports": [port]})
    assert provider_plan.diff_bridged(CONTAINER, olds, news).replaces == ["ports"]


def test_an_unknown_property_fails_check():
    with pytest.raises(provider_plan.CheckFailure, match="notAField"):
        provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "x", "notAField": 1})


def test_the_image_rebuilds_when_a_file_of_its_context_changes(tmp_path):
    context = tmp_path / "app"
    (context / "pkg").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "pkg" / "main.py").write_text("print(1)\n")
    (context / ".dockerignore").write_text("**/__pycache__\nREADME.md\n")
    inputs = {"imageName": "x:1", "build": {"context": "./app"}, "skipPush": True}
    first = provider_plan.check_image(inputs, tmp_path)
    assert first["build"]["dockerfile"] == "app/Dockerfile" and first["buildOnPreview"] is False
    (context / "README.md").write_text("ignored\n")
    (context / "pkg" / "__pycache__").mkdir()
    (context / "pkg" / "__pycache__" / "main.pyc").write_bytes(b"\0")
    assert provider_plan.check_image(inputs, tmp_path) == first, "ignored files changed the digest"
    (context / "pkg" / "main.py").write_text("print(2)\n")
    second = provider_plan.check_image(inputs, tmp_path)
    plan = provider_plan.diff_image(first, second)
    assert plan.changes == {"build": "update"} and plan.replaces == []


def test_a_user_or_workdir_from_the_image_is_no_change():
    """user and working_dir have a DiffSuppressFunc that treats an unset value as Docker's default
    (resource_docker_container.go 181-195, 243-255): the image's USER and WORKDIR read back plan nothing."""
    olds = _state(user="nobody", workingDir="/app")
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64})
    assert provider_plan.diff_bridged(CONTAINER, olds, news).changes == {}
    news = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64, "user": "root"})
    assert provider_plan.diff_bridged(CONTAINER, olds, news).replaces == ["user"]


def test_command_never_read_back_is_planned_as_new_after_a_failed_create():
    """A create that failed before its Read leaves no command or entrypoint in the state; Terraform
    plans computed lists it never read as values to come, which replaces (seen on the real provider)."""
    partial = provider_plan.check_bridged(CONTAINER, {"name": "c", "image": "sha256:1", "memory": 64})
    news = dict(partial)
    plan = provider_plan.diff_bridged(CONTAINER, partial, news)
    assert plan.changes.get("command") == "add-replace" and plan.changes.get("entrypoints") == "add-replace"
    assert provider_plan.diff_bridged(CONTAINER, _state(), news).changes == {}
