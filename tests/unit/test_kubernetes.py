"""The Kubernetes platform under mocks (issue 27): what `pulumi up` would send the cluster, one rule
per test, the resource's URN in each failure. The real cluster runs it in tests/cluster."""
import json

import pytest

from components import docker_common, topology
from components.platforms import kubernetes as k8s_platform
from tests.unit.conftest import API_KEY
from tests.unit.harness import leaks, run_program

K8S = {"platform": "kubernetes"}
PASSWORDS = {"postgresPassword": "PgPassword0123456789", "workloadPassword": "AppPassword0123456789",
             "exporterPassword": "ExpPassword0123456789", "grafanaAdminPassword": "GfPassword0123456789"}
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")


@pytest.fixture(scope="module")
def run():
    return run_program(config=K8S, secret=PASSWORDS)


def _workloads(run) -> dict:
    found = {r.inputs["metadata"]["name"]: r for r in run.resources if r.type in WORKLOADS}
    assert set(found) == {topology.POSTGRES_ALIAS, topology.EXPORTER_ALIAS, topology.PROMETHEUS_ALIAS,
                          topology.GRAFANA_ALIAS, topology.WORKLOAD_ALIAS}, sorted(found)
    return found


def _pod(resource) -> dict:
    return resource.inputs["spec"]["template"]["spec"]


def test_no_docker_container_is_declared_on_kubernetes(run):
    assert not run.of_type("docker:index/container:Container") and not run.of_type("docker:index/network:Network")


def test_the_namespace_enforces_the_restricted_pod_security_standard(run):
    (namespace,) = run.of_type("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert namespace.inputs["metadata"]["name"] == "credit-lab-dev", namespace.urn
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted", namespace.urn


@pytest.mark.parametrize("alias", [topology.POSTGRES_ALIAS, topology.EXPORTER_ALIAS, topology.PROMETHEUS_ALIAS,
                                   topology.GRAFANA_ALIAS, topology.WORKLOAD_ALIAS])
def test_each_pod_runs_as_its_images_user_with_nothing_escalated(run, alias):
    resource = _workloads(run)[alias]
    pod = _pod(resource)
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, resource.urn
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}, resource.urn
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}, \
        resource.urn
    memory = f"{docker_common.MEMORY_MB[alias]}Mi"
    assert container["resources"] == {"requests": {"memory": memory}, "limits": {"memory": memory}}, resource.urn
    assert pod["automountServiceAccountToken"] is False, resource.urn


@pytest.mark.parametrize("alias", [topology.POSTGRES_ALIAS, topology.EXPORTER_ALIAS, topology.PROMETHEUS_ALIAS,
                                   topology.GRAFANA_ALIAS])
def test_probes_run_the_docker_healthcheck(run, alias):
    docker_run = run_program()
    health = docker_run.containers()[f"{alias}-container"].inputs["healthcheck"]
    kind, *rest = health["tests"]
    argv = rest if kind == "CMD" else ["/bin/sh", "-c", rest[0]]
    resource = _workloads(run)[alias]
    (container,) = _pod(resource)["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == argv, (resource.urn, probe)
        assert container[probe]["failureThreshold"] == health["retries"], (resource.urn, probe)


def test_postgres_is_a_statefulset_with_a_claim_behind_a_headless_service(run):
    postgres = _workloads(run)[topology.POSTGRES_ALIAS]
    assert postgres.type == "kubernetes:apps/v1:StatefulSet", postgres.urn
    (claim,) = postgres.inputs["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and "storageClassName" not in claim["spec"], postgres.urn
    services = {s.inputs["metadata"]["name"]: s for s in run.of_type("kubernetes:core/v1:Service")}
    headless = services[postgres.inputs["spec"]["serviceName"]]
    assert headless.inputs["spec"]["clusterIP"] == "None", headless.urn
    # The claim is mounted over the image's VOLUME, and PGDATA points inside it.
    (container,) = _pod(postgres)["containers"]
    assert {"name": "data", "mountPath": "/var/lib/postgresql/data"} in container["volumeMounts"], postgres.urn
    assert {"name": "PGDATA", "value": "/var/lib/postgresql/data/data"} in container["env"], postgres.urn


def test_a_storage_class_reaches_the_claims():
    run = run_program(config={**K8S, "storageClass": "fast-ssd"})
    (claim,) = _workloads(run)[topology.POSTGRES_ALIAS].inputs["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    (prometheus_claim,) = run.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert prometheus_claim.inputs["spec"]["storageClassName"] == "fast-ssd", prometheus_claim.urn


def test_services_carry_the_docker_aliases(run):
    names = {s.inputs["metadata"]["name"] for s in run.of_type("kubernetes:core/v1:Service")}
    assert {topology.POSTGRES_ALIAS, topology.EXPORTER_ALIAS, topology.PROMETHEUS_ALIAS, topology.GRAFANA_ALIAS} <= names


def test_passwords_are_in_secrets_only(run):
    for resource in run.resources:
        for password in PASSWORDS.values():
            assert not leaks(resource.raw, password), f"{resource.urn} holds a password outside a secret"
    for config_map in run.of_type("kubernetes:core/v1:ConfigMap"):
        assert not any(p in json.dumps(config_map.inputs) for p in PASSWORDS.values()), config_map.urn
    for alias, resource in _workloads(run).items():
        (container,) = _pod(resource)["containers"]
        for variable in container.get("env", []):
            assert not any(p in str(variable.get("value")) for p in PASSWORDS.values()), (resource.urn, variable)


def _checksums(run) -> dict:
    return {alias: r.inputs["spec"]["template"]["metadata"]["annotations"][k8s_platform.CHECKSUM_ANNOTATION]
            for alias, r in _workloads(run).items()}


def test_a_changed_secret_rolls_the_pods_that_read_it(run):
    before = _checksums(run)
    after = _checksums(run_program(config=K8S, secret={**PASSWORDS, "workloadPassword": "Another0123456789abc"}))
    changed = {alias for alias in before if before[alias] != after[alias]}
    # the database's env carries every role's password; the workload reads its own
    assert changed == {topology.POSTGRES_ALIAS, topology.WORKLOAD_ALIAS}, sorted(changed)


def test_a_changed_file_rolls_its_pod(run):
    before = _checksums(run)
    after = _checksums(run_program(config={**K8S, "scrapeInterval": "30s"}, secret=PASSWORDS))
    changed = {alias for alias in before if before[alias] != after[alias]}
    # Prometheus's configuration and Grafana's datasource both carry the interval
    assert changed == {topology.PROMETHEUS_ALIAS, topology.GRAFANA_ALIAS}, sorted(changed)


def test_only_database_clients_reach_postgres(run):
    (policy,) = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    spec = policy.inputs["spec"]
    assert spec["podSelector"]["matchLabels"] == {k8s_platform.NAME_LABEL: topology.POSTGRES_ALIAS}, policy.urn
    (rule,) = spec["ingress"]
    assert {"podSelector": {"matchLabels": {k8s_platform.CLIENT_LABEL: "true"}}} in rule["from"], policy.urn
    assert all(peer["podSelector"] == {"matchLabels": {k8s_platform.CLIENT_LABEL: "true"}} for peer in rule["from"]), \
        f"{policy.urn}: a peer that is not a labelled client"
    clients = {alias for alias, r in _workloads(run).items()
               if r.inputs["spec"]["template"]["metadata"]["labels"].get(k8s_platform.CLIENT_LABEL) == "true"}
    assert clients == {topology.WORKLOAD_ALIAS, topology.EXPORTER_ALIAS}, sorted(clients)


def test_clusterip_gives_the_port_forward_commands_the_urls_need(run):
    commands = run.outputs["portForwardCommands"].value
    assert any(c.endswith("svc/grafana 3001:3000") for c in commands), commands
    assert run.outputs["grafanaUrl"].value == "http://127.0.0.1:3001"


def test_nodeport_urls_use_the_node_address_and_the_allocated_port():
    run = run_program(config={**K8S, "serviceType": "NodePort", "nodeAddress": "192.168.49.2"})
    url = run.outputs["grafanaUrl"].value
    host, port = url.removeprefix("http://").split(":")
    assert host == "192.168.49.2" and 30000 <= int(port) <= 32767, url
    assert "portForwardCommands" not in run.outputs


def test_the_workload_image_given_is_used_without_a_build():
    run = run_program(config={**K8S, "workloadImage": "credit-lab-workload:1.0.0"})
    assert not run.of_type("docker:index/image:Image")
    (container,) = _pod(_workloads(run)[topology.WORKLOAD_ALIAS])["containers"]
    assert container["image"] == "credit-lab-workload:1.0.0" and container["imagePullPolicy"] == "IfNotPresent"


def test_a_local_build_is_never_pulled_and_its_id_rolls_the_pod(run):
    (container,) = _pod(_workloads(run)[topology.WORKLOAD_ALIAS])["containers"]
    assert container["imagePullPolicy"] == "Never", container


# ---- Datadog on Kubernetes (issue 28) -------------------------------------------------------------
@pytest.fixture(scope="module")
def datadog_run():
    return run_program(config=K8S, secret={**PASSWORDS, "ddApiKey": API_KEY})


def _agent(run):
    (daemon_set,) = run.of_type("kubernetes:apps/v1:DaemonSet")
    return daemon_set


def test_the_agent_is_a_daemonset_in_a_privileged_namespace_of_its_own(datadog_run):
    namespaces = {n.inputs["metadata"]["name"]: n for n in datadog_run.of_type("kubernetes:core/v1:Namespace")}
    assert set(namespaces) == {"credit-lab-dev", "credit-lab-dev-datadog"}, sorted(namespaces)
    agent_ns = namespaces["credit-lab-dev-datadog"]
    assert agent_ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged", agent_ns.urn
    assert namespaces["credit-lab-dev"].inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == \
        "restricted", "the lab's namespace lost its standard"
    daemon_set = _agent(datadog_run)
    assert daemon_set.inputs["metadata"]["namespace"] == "credit-lab-dev-datadog", daemon_set.urn


def test_the_agent_mounts_what_datadogs_daemonset_mounts_read_only(datadog_run):
    pod = _pod(_agent(datadog_run))
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    host_mounts = {volumes[m["name"]]["hostPath"]["path"]: (m["mountPath"], m.get("readOnly", False))
                   for m in container["volumeMounts"] if "hostPath" in volumes[m["name"]]}
    expected = {"/var/run": "/host/var/run", "/proc": "/host/proc", "/sys/fs/cgroup": "/host/sys/fs/cgroup",
                "/var/log/pods": "/var/log/pods"}
    for host, inside in expected.items():
        assert host_mounts.get(host) == (inside, True), f"{host}: {host_mounts.get(host)}"


def test_the_agents_rbac_is_datadogs(datadog_run):
    (role,) = datadog_run.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    resources = {r for rule in role.inputs["rules"] for r in rule.get("resources", [])}
    assert {"pods", "nodes", "services", "endpoints", "events", "nodes/metrics", "nodes/spec", "nodes/proxy",
            "nodes/stats"} <= resources, role.urn
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in role.inputs["rules"]), "the Agent writes"
    (binding,) = datadog_run.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    (account,) = datadog_run.of_type("kubernetes:core/v1:ServiceAccount")
    assert binding.inputs["subjects"][0]["name"] == account.inputs["metadata"]["name"] == \
        _pod(_agent(datadog_run))["serviceAccountName"], binding.urn


def test_the_api_key_and_the_datadog_password_come_from_a_secret(datadog_run):
    (container,) = _pod(_agent(datadog_run))["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name in ("DD_API_KEY", "DD_POSTGRES_PASSWORD"):
        assert "secretKeyRef" in env[name].get("valueFrom", {}), env[name]
    assert env["DD_KUBERNETES_KUBELET_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    for resource in datadog_run.resources:
        assert not leaks(resource.raw, API_KEY), f"{resource.urn} holds the API key outside a secret"


def test_traces_go_to_the_agent_on_the_pods_node(datadog_run):
    (container,) = _pod(_agent(datadog_run))["containers"]
    assert {"containerPort": 8126, "hostPort": 8126, "name": "traceport", "protocol": "TCP"} in container["ports"]
    (workload,) = _pod(_workloads(datadog_run)[topology.WORKLOAD_ALIAS])["containers"]
    env = {e["name"]: e for e in workload["env"]}
    assert env["DD_AGENT_HOST"] == {"name": "DD_AGENT_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}
    assert env["DD_TRACE_ENABLED"]["value"] == "true"


def test_the_dbm_check_is_the_docker_instance_on_the_database_pod(datadog_run):
    annotations = _workloads(datadog_run)[topology.POSTGRES_ALIAS].inputs["spec"]["template"]["metadata"]["annotations"]
    (instance,) = json.loads(annotations["ad.datadoghq.com/postgres.checks"])["postgres"]["instances"]
    docker = run_program(secret={"ddApiKey": API_KEY}).containers()["datadog-agent-container"]
    labels = {label["label"]: label["value"] for label in docker.inputs["labels"]}
    (docker_instance,) = json.loads(labels["com.datadoghq.ad.checks"])["postgres"]["instances"]
    assert instance["host"] == "%%host%%" and instance["dbm"] is True
    assert {**instance, "host": docker_instance["host"]} == docker_instance
    assert "%%env_DD_POSTGRES_PASSWORD%%" == instance["password"]
    assert json.loads(annotations["ad.datadoghq.com/postgres.logs"])[0]["source"] == "postgresql"


def test_the_agent_gets_through_the_databases_network_policy(datadog_run):
    (policy,) = datadog_run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    peers = policy.inputs["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {k8s_platform.CLIENT_NAMESPACE_LABEL: "credit-lab-dev"}},
            "podSelector": {"matchLabels": {k8s_platform.CLIENT_LABEL: "true"}}} in peers, policy.urn
    labels = _agent(datadog_run).inputs["spec"]["template"]["metadata"]["labels"]
    assert labels[k8s_platform.CLIENT_LABEL] == "true"
