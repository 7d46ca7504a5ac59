"""Datadog on the Kubernetes platform (issue 28), on the real cluster with the Agent's stand-in image
(tests/README.md: its user, probe and Datadog's test agent on 8126; no check runs): the Agent is a
DaemonSet on the node with Datadog's host mounts and RBAC, the workload's five services send their
traces to it over their node's IP, a statement PostgreSQL runs carries a traceparent whose trace it
received, the database pod's Autodiscovery annotation is the Docker platform's check instance (its
host the template variable), no secret is in clear in the state, and removing the key removes the
Agent while the workload commits untraced.
"""
from __future__ import annotations

import json
import re

import pytest

from components import topology
from components.platforms import kubernetes_agent
from components.render import datadog as datadog_render
from tests.cluster import cluster
from tests.integration import real_lab
from tests.unit.harness import run_program
from workload.credit_workload import settings as workload_settings

API_KEY = "0123456789abcdef0123456789abcdef"
SEED = 2000
TRACE_DEADLINE_S = real_lab.TRACE_DEADLINE_S
AGENT = ("-n", cluster.AGENT_NAMESPACE)


@pytest.fixture(scope="module")
def lab():
    with cluster.running(config={"seedCustomers": str(SEED)}, secret={"ddApiKey": API_KEY}) as lab:
        yield lab


def _intake(query: str = "") -> list:
    """What the Agent's trace intake received (the test agent's /test/traces), read inside its pod."""
    out = cluster.kubectl(*AGENT, "exec", f"daemonset/{topology.AGENT_ALIAS}", "--",
                          "wget", "-q", "-O", "-", f"http://127.0.0.1:8126/test/traces{query}")
    return json.loads(out)


def test_the_agent_runs_on_the_node_with_datadogs_mounts_and_rbac(lab):
    def scheduled():
        status = cluster.kubectl_json(*AGENT, "get", "daemonset", topology.AGENT_ALIAS)["status"]
        return status if status.get("numberReady") == status.get("desiredNumberScheduled") == 1 else None
    real_lab.wait_for("the Agent's pod Ready on the node", scheduled, deadline_s=120)
    (pod,) = cluster.kubectl_json(*AGENT, "get", "pods")["items"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    (container,) = pod["spec"]["containers"]
    mounted = {volumes[m["name"]]["hostPath"]["path"]: (m["mountPath"], m.get("readOnly", False))
               for m in container["volumeMounts"] if "hostPath" in volumes[m["name"]]}
    for _, host, inside in kubernetes_agent.HOST_MOUNTS:
        assert mounted.get(host) == (inside, True), f"{host}: {mounted.get(host)}"
    account = f"system:serviceaccount:{cluster.AGENT_NAMESPACE}:{pod['spec']['serviceAccountName']}"
    for verb, resource, allowed in (("list", "pods", "yes"), ("get", "nodes/stats", "yes"), ("create", "pods", "no"),
                                    ("get", "secrets", "no")):
        answer = cluster.kubectl_run("auth", "can-i", verb, resource, f"--as={account}").stdout.strip()
        assert answer == allowed, f"the Agent may {verb} {resource}: {answer}"


def test_each_services_traces_reach_the_agent_on_its_node(lab):
    expected = {workload_settings.service_name(key) for key in workload_settings.SERVICES}

    def services_seen():
        roots = {span["service"] for trace in _intake() for span in trace if span["name"] == workload_settings.ROOT_SPAN}
        return roots if roots >= expected else None
    real_lab.wait_for("root spans of every service at the Agent", services_seen, TRACE_DEADLINE_S)


def test_a_statement_the_database_runs_carries_a_trace_that_reached_the_agent(lab):
    real_lab.check_a_traced_statement_reached_the_intake(lab.output("postgresDsn"), topology.WORKLOAD_ROLE, _intake)


def test_the_autodiscovery_annotation_is_the_docker_check_instance_but_its_host(lab):
    pod = cluster.kubectl_json("-n", cluster.NAMESPACE, "get", "pod", f"{topology.POSTGRES_ALIAS}-0")
    annotations = pod["metadata"]["annotations"]
    (instance,) = json.loads(annotations[f"ad.datadoghq.com/{topology.POSTGRES_ALIAS}.checks"])["postgres"]["instances"]
    # the Docker platform's instance for the same stack (its name is in the reported host and the tags)
    docker = run_program(secret={"ddApiKey": API_KEY}, stack=cluster.STACK).containers()["datadog-agent-container"]
    labels = {label["label"]: label["value"] for label in docker.inputs["labels"]}
    (docker_instance,) = json.loads(labels[datadog_render.CHECKS_LABEL])["postgres"]["instances"]
    assert instance["host"] == datadog_render.POD_HOST
    differing = {key for key in set(instance) | set(docker_instance) if instance.get(key) != docker_instance.get(key)}
    assert differing == {"host"}, f"the instances differ in {sorted(differing)}"
    logs = json.loads(annotations[f"ad.datadoghq.com/{topology.POSTGRES_ALIAS}.logs"])
    assert logs == json.loads(datadog_render.postgres_logs_label())


def test_no_secret_value_is_in_clear_in_the_state(lab):
    state = "\n".join(path.read_text() for path in (lab.home / "state").rglob("*.json"))
    assert '"ciphertext"' in state
    password = lab.output("postgresDsn").split(":")[2].split("@")[0]
    for name, value in {"API key": API_KEY, "postgres password": password}.items():
        assert value not in state, f"the {name} is in the state in clear"


def test_without_the_key_the_agent_goes_and_the_workload_runs_untraced(lab):
    lab.stack.remove_config("ddApiKey")
    lab.up()
    assert cluster.kubectl("get", "namespace", cluster.AGENT_NAMESPACE, "--ignore-not-found").strip() == ""
    assert cluster.kubectl("get", "clusterrole", cluster.AGENT_NAMESPACE, "--ignore-not-found").strip() == ""

    def untraced_and_reporting():
        pods = [p for p in cluster.kubectl_json("-n", cluster.NAMESPACE, "get", "pods",
                                                f"-l=app.kubernetes.io/name={topology.WORKLOAD_ALIAS}")["items"]
                if not p["metadata"].get("deletionTimestamp")]
        if len(pods) != 1:
            return None
        logs = cluster.kubectl("-n", cluster.NAMESPACE, "logs", pods[0]["metadata"]["name"])
        reports = re.findall(r"^(credit-[a-z]+)\s+ops/s=\S+ ok=(\d+) errors=(\d+)", logs, re.M)
        services = {service for service, _, _ in reports}
        return (logs, reports) if services >= {workload_settings.service_name(k) for k in workload_settings.SERVICES} \
            else None
    logs, reports = real_lab.wait_for("the new workload pod reporting", untraced_and_reporting, deadline_s=120)
    tracing = dict(re.findall(r"(credit-[a-z]+): scenario \S+, target \S+ ops/s, tracing (on|off)", logs))
    assert tracing and set(tracing.values()) == {"off"}, tracing
    assert all(errors == "0" for _, _, errors in reports) and sum(int(ok) for _, ok, _ in reports) > 0, logs[-2000:]
    assert "Traceback" not in logs
