"""The program against the rules of the engines that mocks skip: the Pulumi CLI's config check,
the provider's create timeout, Docker's name rules and log driver, Datadog's Docker install.
Each rule is modelled in tests/engine (sources there and in tests/CONTRACTS.md)."""
import re
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from components import docker_common, settings as lab_settings
from components.render import datadog as datadog_render
from tests.engine import datadog_check, pulumi_cli, rules
from tests.unit.conftest import API_KEY
from tests.unit.harness import run_program
from tests.unit.test_secrets import env_of

ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
README = (ROOT / "README.md").read_text()
# The stack files the project ships: not those the real-lab and cluster tests create (and remove)
# while the suite runs, which .gitignore lists.
IGNORED = [line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
STACK_FILES = sorted(p for p in ROOT.glob("Pulumi.*.yaml") if not any(fnmatch(p.name, pattern) for pattern in IGNORED))


def _duration_s(text: str) -> float:
    """A Pulumi custom timeout ("35m", "1h", "90s") in seconds."""
    found = re.fullmatch(r"(\d+)([smh])", text)
    assert found, f"not a Pulumi timeout: {text!r}"
    return int(found.group(1)) * {"s": 1, "m": 60, "h": 3600}[found.group(2)]


# ---- Pulumi CLI: config ------------------------------------------------------------------------
def test_pulumi_yaml_passes_the_cli_project_check():
    assert pulumi_cli.project_errors(PROJECT) == []


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_every_stack_file_passes_the_cli_config_check(stack_file):
    stack = stack_file.name.split(".")[1]
    config = pulumi_cli.stack_config(stack_file.read_text())
    assert pulumi_cli.stack_errors(PROJECT, stack, config) == [], stack_file.name


def test_a_new_stack_without_a_stack_file_passes_the_cli_config_check():
    """`pulumi stack select --create test && pulumi up`: no Pulumi.test.yaml, no config at all."""
    assert pulumi_cli.stack_errors(PROJECT, "test", pulumi_cli.stack_config(None)) == []


def test_optional_secrets_are_not_required_by_the_cli():
    declared = set(PROJECT["config"])
    assert not declared & set(lab_settings.OPTIONAL_SECRETS), "a declared key without default is required"


def test_the_cli_rule_catches_a_required_key():
    """The model can fail: a declared key without default is missing on a stack that lacks it."""
    project = {"name": "credit-lab", "config": {"ddApiKey": {"type": "string", "secret": True}}}
    assert pulumi_cli.stack_errors(project, "dev", {}) == ["Stack 'dev' is missing configuration value 'ddApiKey'"]
    assert pulumi_cli.stack_errors(project, "dev", {"credit-lab:ddApiKey": "plain"}) == [
        "Stack 'dev' with configuration key 'ddApiKey' must be encrypted as it's secret"]


# ---- pulumi-docker: create timeout -------------------------------------------------------------
def test_postgres_create_timeout_covers_the_health_wait(default_run):
    container = default_run.containers()["postgres-container"]
    wait_s = container.inputs["waitTimeout"]
    timeouts = container.custom_timeouts
    create_s = _duration_s(timeouts["create"]) if "create" in timeouts else rules.CONTAINER_DEFAULT_TIMEOUT_S
    update_s = _duration_s(timeouts["update"]) if "update" in timeouts else rules.CONTAINER_DEFAULT_TIMEOUT_S
    # The wait runs inside create; a replacement (most changes) creates again.
    assert create_s > wait_s and update_s > wait_s, f"{container.urn}: {timeouts} vs wait {wait_s}s"


@pytest.mark.parametrize("name", ["postgres-exporter-container", "prometheus-container", "grafana-container",
                                  "workload-container", "datadog-agent-container"])
def test_other_containers_do_not_wait_beyond_the_default_timeout(datadog_run, name):
    container = datadog_run.containers()[name]
    if container.inputs.get("wait"):
        assert container.inputs.get("waitTimeout", 60) < rules.CONTAINER_DEFAULT_TIMEOUT_S, container.urn


# ---- Docker: log driver ------------------------------------------------------------------------
def test_every_container_rotates_its_log(datadog_run):
    for name, container in datadog_run.containers().items():
        driver = container.inputs.get("logDriver") or rules.DAEMON_DEFAULT_LOG_DRIVER
        options = container.inputs.get("logOpts") or {}
        missing = [o for o in rules.ROTATING_OPTIONS.get(driver, ("?",)) if o not in options]
        assert not missing, f"{container.urn}: {driver} keeps its log unbounded without {missing}"
        # The Agent tails json-file logs; other drivers would hide PostgreSQL's log from it.
        assert driver == "json-file", container.urn


def test_readme_states_the_log_cap():
    assert f"{docker_common.log_limit_mb()} MB of log per container" in README


# ---- Datadog: the Agent's host name (Docker's and the CLI's names: integration/test_engine_names.py) --
STACK_NAMES = ["dev", "Dev", "my_stack", "Team.A-1", "x" * 100]


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_the_agent_host_name_is_valid_for_datadog_whatever_the_stack_name(stack):
    run = run_program(secret={"ddApiKey": API_KEY}, stack=stack)
    agent = run.containers()["datadog-agent-container"]
    hostname = env_of(agent)["DD_HOSTNAME"]
    assert rules.AGENT_HOSTNAME.match(hostname) and len(hostname) <= rules.AGENT_HOSTNAME_MAX, agent.urn


def test_stacks_differing_only_in_case_build_different_images():
    names = {run_program(stack=stack).named("workload-image").inputs["imageName"] for stack in ("dev", "Dev")}
    assert len(names) == 2, names


# ---- Datadog Agent: Docker install -------------------------------------------------------------
def test_agent_runs_like_datadogs_docker_install(datadog_run):
    agent = datadog_run.containers()["datadog-agent-container"]
    assert agent.inputs.get("cgroupnsMode") == "host", agent.urn
    assert agent.inputs.get("pidMode") == "host", agent.urn
    binds = {v["hostPath"]: (v["containerPath"], v.get("readOnly")) for v in agent.inputs["volumes"] if "hostPath" in v}
    assert binds == {host: (inside, True) for host, inside in datadog_check.DOCKER_INSTALL_BINDS.items()}, agent.urn
    named = {v["containerPath"]: v["volumeName"] for v in agent.inputs["volumes"] if "volumeName" in v}
    assert named == {datadog_render.RUN_PATH: "credit-lab-dev-datadog-run"}, agent.urn


# How README's prerequisites name each Docker the lab runs on, and its key in rules.HOST_PATHS.
README_PLATFORMS = {"Docker Engine on Linux": "linux", "Docker Desktop": "docker-desktop", "Colima": "colima"}


def test_every_host_path_exists_where_readme_says_the_lab_runs(datadog_run):
    prerequisites = README.split("## Prerequisites", 1)[1].split("\n## ", 1)[0]
    platforms = {key for words, key in README_PLATFORMS.items() if words in prerequisites}
    assert platforms == set(README_PLATFORMS.values()), f"README's prerequisites name {sorted(platforms)}"
    mounted = [(container.urn, volume["hostPath"]) for container in datadog_run.containers().values()
               for volume in container.inputs.get("volumes", []) if "hostPath" in volume]
    assert mounted, "no container bind-mounts a host path: nothing to check"
    for urn, host in mounted:
        assert host not in rules.NOT_PORTABLE_HOST_PATHS, f"{urn}: {host}"
        where = set(rules.HOST_PATHS.get(host, ()))
        assert platforms <= where, f"{urn}: {host} is not known to exist on {sorted(platforms - where)}"
