"""The Datadog Agent on the Kubernetes platform, as Datadog's Kubernetes docs set it up: a DaemonSet
(one Agent per node) with its ServiceAccount and the RBAC of Datadog's manifests, the API key in a
Secret, the kubelet reached at the node's IP, the host's container runtime socket folder, /proc,
/sys/fs/cgroup and /var/log/pods mounted read-only, and the trace intake on each node's port 8126
(hostPort), where the workload's services send to their node's IP. It lives in a namespace of its
own, `<lab namespace>-datadog`: its host mounts need the `privileged` Pod Security Standard, and the
lab's namespace keeps `restricted`. The DBM check itself is an Autodiscovery annotation on the
PostgreSQL pod (components/postgres.py), the same instance the Docker platform's Agent gets.

Sources: DataDog/datadog-agent Dockerfiles/manifests/agent-only/rbac.yaml and daemonset.yaml
(generated from Datadog's Helm chart); Datadog docs, "Kubernetes: Install the Agent" (DaemonSet),
"APM: Kubernetes" (hostPort 8126 and DD_AGENT_HOST from status.hostIP), "Autodiscovery template
variables" (%%host%%, %%env_<VAR>%%), "DBM on self-hosted Postgres, Kubernetes".
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import docker_common as dc, topology
from components.platforms.kubernetes import CLIENT_LABEL, CLIENT_NAMESPACE_LABEL
from components.render import datadog as render

TRACE_PORT = 8126
# Datadog's ClusterRole for the node Agent (rbac.yaml): what the kubelet and API checks read.
CLUSTER_ROLE_RULES = [
    k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["services", "events", "endpoints", "pods", "nodes",
                                                           "componentstatuses"], verbs=["get", "list", "watch"]),
    k8s.rbac.v1.PolicyRuleArgs(api_groups=["quota.openshift.io"], resources=["clusterresourcequotas"],
                               verbs=["get", "list"]),
    k8s.rbac.v1.PolicyRuleArgs(non_resource_urls=["/version", "/healthz"], verbs=["get"]),
    k8s.rbac.v1.PolicyRuleArgs(non_resource_urls=["/metrics"], verbs=["get"]),
    k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["nodes/metrics", "nodes/spec", "nodes/proxy", "nodes/stats"],
                               verbs=["get"]),
    k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["endpoints"], verbs=["get"]),
]
# (volume, host path, where the Agent sees it), all read-only: Datadog's DaemonSet mounts.
HOST_MOUNTS = (
    ("runtimesocketdir", "/var/run", "/host/var/run"),
    ("procdir", "/proc", "/host/proc"),
    ("cgroups", "/sys/fs/cgroup", "/host/sys/fs/cgroup"),
    ("logpodpath", "/var/log/pods", "/var/log/pods"),
)
# Log positions on the node (Datadog's `pointerdir`), so a new Agent pod resumes where the last stopped.
POINTER_DIR = "/var/lib/datadog-agent/logs"


@dataclass
class AgentPlacement:
    namespace: pulumi.Output[str]
    name: pulumi.Output[str]


def agent_namespace(lab_namespace: str) -> str:
    return dc.dns_label(f"{lab_namespace}-datadog")


def place(parent: pulumi.Resource, name: str, *, lab_namespace: str, image: str, api_key: pulumi.Input[str],
          datadog_password: pulumi.Input[str], env: dict[str, str]) -> AgentPlacement:
    child = pulumi.ResourceOptions(parent=parent)
    labels = {"app.kubernetes.io/name": topology.AGENT_ALIAS, "app.kubernetes.io/part-of": "credit-lab",
              # lets it through the database's NetworkPolicy (components/platforms/kubernetes.py)
              CLIENT_LABEL: "true"}
    namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(
        name=agent_namespace(lab_namespace),
        labels={"app.kubernetes.io/part-of": "credit-lab", "pod-security.kubernetes.io/enforce": "privileged",
                CLIENT_NAMESPACE_LABEL: lab_namespace}), opts=child)
    ns = namespace.metadata.name
    account = k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=k8s.meta.v1.ObjectMetaArgs(
        name=topology.AGENT_ALIAS, namespace=ns), opts=child)
    role = k8s.rbac.v1.ClusterRole(f"{name}-cluster-role", metadata=k8s.meta.v1.ObjectMetaArgs(
        name=agent_namespace(lab_namespace)), rules=CLUSTER_ROLE_RULES, opts=child)
    k8s.rbac.v1.ClusterRoleBinding(
        f"{name}-cluster-role-binding", metadata=k8s.meta.v1.ObjectMetaArgs(name=agent_namespace(lab_namespace)),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole",
                                         name=role.metadata.name),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=account.metadata.name, namespace=ns)],
        opts=child)
    secret = k8s.core.v1.Secret(f"{name}-secret", metadata=k8s.meta.v1.ObjectMetaArgs(
        name=topology.AGENT_ALIAS, namespace=ns), string_data={
            "api-key": pulumi.Output.secret(api_key), "postgres-password": pulumi.Output.secret(datadog_password)},
        opts=child)

    def from_secret(variable: str, key: str) -> k8s.core.v1.EnvVarArgs:
        return k8s.core.v1.EnvVarArgs(name=variable, value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret.metadata.name, key=key)))
    variables = [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())] + [
        from_secret(render.API_KEY_ENV, "api-key"), from_secret(render.POSTGRES_PASSWORD_ENV, "postgres-password"),
        k8s.core.v1.EnvVarArgs(name="DD_KUBERNETES_KUBELET_HOST", value_from=k8s.core.v1.EnvVarSourceArgs(
            field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="status.hostIP")))]
    memory = f"{dc.MEMORY_MB[topology.AGENT_ALIAS]}Mi"
    daemon_set = k8s.apps.v1.DaemonSet(
        f"{name}-daemonset", metadata=k8s.meta.v1.ObjectMetaArgs(name=topology.AGENT_ALIAS, namespace=ns, labels=labels),
        spec=k8s.apps.v1.DaemonSetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": topology.AGENT_ALIAS}),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name=account.metadata.name,
                    node_selector={"kubernetes.io/os": "linux"},
                    containers=[k8s.core.v1.ContainerArgs(
                        name="agent", image=image, image_pull_policy="IfNotPresent", env=variables,
                        ports=[k8s.core.v1.ContainerPortArgs(container_port=TRACE_PORT, host_port=TRACE_PORT,
                                                             name="traceport", protocol="TCP")],
                        resources=k8s.core.v1.ResourceRequirementsArgs(requests={"memory": memory},
                                                                       limits={"memory": memory}),
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name=volume, mount_path=inside, read_only=True)
                                       for volume, _, inside in HOST_MOUNTS]
                        + [k8s.core.v1.VolumeMountArgs(name="pointerdir", mount_path=render.RUN_PATH)],
                        # The Agent image's own health command (its HEALTHCHECK on Docker).
                        readiness_probe=k8s.core.v1.ProbeArgs(exec_=k8s.core.v1.ExecActionArgs(command=["/probe.sh"]),
                                                              period_seconds=15, timeout_seconds=5,
                                                              failure_threshold=6))],
                    volumes=[k8s.core.v1.VolumeArgs(name=volume, host_path=k8s.core.v1.HostPathVolumeSourceArgs(
                        path=path)) for volume, path, _ in HOST_MOUNTS]
                    + [k8s.core.v1.VolumeArgs(name="pointerdir", host_path=k8s.core.v1.HostPathVolumeSourceArgs(
                        path=POINTER_DIR, type="DirectoryOrCreate"))]))),
        opts=child)
    return AgentPlacement(namespace=ns, name=daemon_set.metadata.name)
