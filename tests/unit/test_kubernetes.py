"""The Kubernetes platform under mocks (issue 27): what `pulumi up` would send the cluster, one rule
per test, the resource's URN in each failure. The real cluster runs it in tests/cluster."""
import json

import pytest

from components import docker_common, settings as lab_settings, topology
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
    assert rule["from"] == [{"podSelector": {"matchLabels": {k8s_platform.CLIENT_LABEL: "true"}}}], policy.urn
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


def test_datadog_on_kubernetes_is_refused_naming_the_key():
    with pytest.raises(lab_settings.ConfigError, match="ddApiKey"):
        run_program(config=K8S, secret={"ddApiKey": API_KEY})
