"""The Kubernetes platform: each ContainerSpec becomes, in the stack's namespace, a Deployment (a
StatefulSet with a claim per pod for the database) and a Service under its alias, its files in a
ConfigMap, its secret variables in a Secret, its probe as readiness, liveness and startup probes,
its memory as request and limit. Pods run as their images' non-root users with no privilege
escalation and every capability dropped, so the namespace enforces the `restricted` Pod Security
Standard. A change of a pod's files, variables, secrets or built image rolls it (a checksum
annotation). Only database clients reach PostgreSQL (a NetworkPolicy)."""
from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components import docker_common as dc
from components.container import ContainerSpec
from components.platforms import Placed

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PART_OF = "credit-lab"
NAME_LABEL = "app.kubernetes.io/name"
CLIENT_LABEL = "credit-lab/database-client"
# On a namespace whose client pods may reach the lab's database (the Datadog Agent's), its value the lab's namespace.
CLIENT_NAMESPACE_LABEL = "credit-lab/database-clients-of"
CHECKSUM_ANNOTATION = "credit-lab/checksum"
# The strictest Pod Security Standard the lab's pods meet: every one runs as its image's non-root
# user, escalates nothing, drops every capability and uses the runtime's seccomp profile; the volumes
# are claims, ConfigMaps, Secrets and an in-memory /dev/shm.
POD_SECURITY = "restricted"
# Where a process that must own its data folder keeps it, inside its claim (ContainerSpec.data).
DATA_SUBDIRECTORY = "data"


@dataclass
class KubernetesSettings:
    namespace: str
    """The stack's namespace (created, and deleted with everything in it on destroy)."""
    storage_class: str
    """The claims' StorageClass; "" for the cluster's default."""
    service_type: str
    """How the user reaches the lab's services: ClusterIP (kubectl port-forward), NodePort, LoadBalancer."""
    node_address: str
    """A node's address, for the URLs of NodePort Services."""
    local_host: str
    """Where `kubectl port-forward` listens on the user's machine (ClusterIP): the bind address."""


def file_key(path: str) -> str:
    """A file's key in its ConfigMap: its path with `/` as `_` (keys allow [-._a-zA-Z0-9])."""
    return path.strip("/").replace("/", "_")


def _checksum(*values) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class KubernetesPlatform:
    settings: KubernetesSettings
    namespace: pulumi.Output[str]
    """The namespace's name, once it exists."""
    port_forwards: list = field(default_factory=list)
    """`kubectl port-forward` commands for ClusterIP Services (an output of the stack)."""

    def _meta(self, name: str, labels: Optional[Mapping[str, str]] = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name, namespace=self.namespace,
                                          labels={"app.kubernetes.io/part-of": PART_OF, **(labels or {})})

    def place(self, parent: pulumi.Resource, name: str, spec: ContainerSpec,
              opts: Optional[pulumi.ResourceOptions]) -> Placed:
        child = pulumi.ResourceOptions(parent=parent, depends_on=dc.depends_on(opts))
        selector = {NAME_LABEL: spec.alias}
        volumes, mounts, env = [], [], []

        # Files: one ConfigMap, each file mounted at its path with its mode.
        files = list(spec.files)
        if files:
            config_map = k8s.core.v1.ConfigMap(
                f"{name}-files", metadata=self._meta(f"{spec.alias}-files", selector),
                data={file_key(f.path): f.content for f in files}, opts=child)
            volumes.append(k8s.core.v1.VolumeArgs(name="files", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                name=config_map.metadata.name,
                items=[k8s.core.v1.KeyToPathArgs(key=file_key(f.path), path=file_key(f.path), mode=f.mode)
                       for f in files])))
            mounts += [k8s.core.v1.VolumeMountArgs(name="files", mount_path=f.path, sub_path=file_key(f.path),
                                                   read_only=True) for f in files]

        # Variables: the plain ones as values, the secret ones from a Secret of their own.
        plain = pulumi.Output.from_input(spec.env)
        env_values = plain.apply(lambda values: [k8s.core.v1.EnvVarArgs(name=k, value=v)
                                                 for k, v in sorted(values.items())])
        secret = None
        if spec.secret_env:
            secret = k8s.core.v1.Secret(
                f"{name}-env", metadata=self._meta(f"{spec.alias}-env", selector),
                string_data={k: pulumi.Output.secret(v) for k, v in spec.secret_env.items()}, opts=child)
            env += [k8s.core.v1.EnvVarArgs(name=k, value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret.metadata.name, key=k)))
                    for k in sorted(spec.secret_env)]

        if spec.node_ip_env:
            env.append(k8s.core.v1.EnvVarArgs(name=spec.node_ip_env, value_from=k8s.core.v1.EnvVarSourceArgs(
                field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="status.hostIP"))))

        # Persistent data: a claim per pod (StatefulSet) or one claim (Deployment, replaced whole).
        data_name, claim_templates = None, None
        if spec.data is not None:
            mounts.append(k8s.core.v1.VolumeMountArgs(name="data", mount_path=spec.data.path))
            if spec.data.owned_by_process:
                env.append(k8s.core.v1.EnvVarArgs(name=spec.data.owned_by_process,
                                                  value=posixpath.join(spec.data.path, DATA_SUBDIRECTORY)))
            claim_spec = k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"], storage_class_name=self.settings.storage_class or None,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{spec.data.size_gb}Gi"}))
            if spec.stateful:
                claim_templates = [k8s.core.v1.PersistentVolumeClaimArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name="data"), spec=claim_spec)]
                data_name = pulumi.Output.concat("data-", spec.alias, "-0")
            else:
                # A claim of a WaitForFirstConsumer class binds only once its pod is scheduled:
                # Pulumi must not wait for it to be bound before making that pod.
                claim = k8s.core.v1.PersistentVolumeClaim(
                    f"{name}-data", metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=spec.data.name, namespace=self.namespace,
                        labels={"app.kubernetes.io/part-of": PART_OF, **selector},
                        annotations={"pulumi.com/skipAwait": "true"}),
                    spec=claim_spec, opts=child)
                volumes.append(k8s.core.v1.VolumeArgs(
                    name="data", persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                        claim_name=claim.metadata.name)))
                data_name = claim.metadata.name
        if spec.shm_mb is not None:
            volumes.append(k8s.core.v1.VolumeArgs(name="shm", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                medium="Memory", size_limit=f"{spec.shm_mb}Mi")))
            mounts.append(k8s.core.v1.VolumeMountArgs(name="shm", mount_path="/dev/shm"))

        probes = {}
        if spec.probe is not None:
            p = spec.probe

            def probe(failures: int) -> k8s.core.v1.ProbeArgs:
                return k8s.core.v1.ProbeArgs(exec_=k8s.core.v1.ExecActionArgs(command=p.argv()),
                                             period_seconds=p.interval_s, timeout_seconds=p.timeout_s,
                                             failure_threshold=failures)
            probes = dict(readiness_probe=probe(p.retries), liveness_probe=probe(p.retries))
            if p.start_period_s:
                probes["startup_probe"] = probe(-(-p.start_period_s // p.interval_s) + p.retries)

        memory = f"{dc.MEMORY_MB[spec.alias]}Mi"
        container = k8s.core.v1.ContainerArgs(
            name=spec.alias, image=spec.image,
            image_pull_policy="IfNotPresent" if spec.pinned or spec.image_id is None else "Never",
            command=list(spec.entrypoint) if spec.entrypoint is not None else None,
            args=list(spec.command) if spec.command is not None else None,
            env=pulumi.Output.all(env_values, env).apply(lambda parts: [*parts[0], *parts[1]]),
            ports=[k8s.core.v1.ContainerPortArgs(container_port=spec.port, name="main")] if spec.port else None,
            volume_mounts=mounts or None,
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"memory": memory}, limits={"memory": memory}),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])),
            **probes)
        # Anything a pod reads at start: a change rolls it.
        checksum = pulumi.Output.all(
            [(f.path, f.content, f.mode) for f in files], plain, spec.secret_env, spec.image_id).apply(
            lambda values: _checksum(*values))
        labels = {**selector, "app.kubernetes.io/part-of": PART_OF,
                  **({CLIENT_LABEL: "true"} if spec.database_client else {})}
        template = k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels,
                                                annotations={**spec.annotations, CHECKSUM_ANNOTATION: checksum}),
            spec=k8s.core.v1.PodSpecArgs(
                containers=[container], volumes=volumes or None, automount_service_account_token=False,
                termination_grace_period_seconds=spec.stop_timeout_s,
                security_context=k8s.core.v1.PodSecurityContextArgs(
                    run_as_non_root=True, run_as_user=spec.user, run_as_group=spec.user, fs_group=spec.user,
                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))))
        timeouts = None
        if spec.create_timeout_s is not None:
            timeout = f"{-(-spec.create_timeout_s // 60)}m"
            timeouts = pulumi.CustomTimeouts(create=timeout, update=timeout)
        workload_opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(custom_timeouts=timeouts))

        endpoint = None
        if spec.stateful:
            service = self._service(name, spec, selector, child, headless=True)
            workload = k8s.apps.v1.StatefulSet(
                f"{name}-statefulset", metadata=self._meta(spec.alias, selector),
                spec=k8s.apps.v1.StatefulSetSpecArgs(
                    service_name=service.metadata.name, replicas=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector), template=template,
                    volume_claim_templates=claim_templates),
                opts=pulumi.ResourceOptions.merge(workload_opts, pulumi.ResourceOptions(depends_on=[service])))
            self._only_clients(name, spec, selector, child)
            if spec.host_port is not None:
                endpoint = self._expose(f"{name}-access", f"{spec.alias}-access", spec, selector, child,
                                        existing=service)
        else:
            workload = k8s.apps.v1.Deployment(
                f"{name}-deployment", metadata=self._meta(spec.alias, selector),
                spec=k8s.apps.v1.DeploymentSpecArgs(
                    replicas=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector), template=template,
                    # One claim, read-write by one node: the old pod goes before the new one mounts it.
                    strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate") if spec.data else None),
                opts=workload_opts)
            if spec.port is not None:
                endpoint = self._expose(f"{name}-service", spec.alias, spec, selector, child,
                                        published=spec.host_port is not None)
        return Placed(name=workload.metadata.name, data_name=data_name, endpoint=endpoint)

    def _service(self, name: str, spec: ContainerSpec, selector: dict, opts, headless: bool) -> k8s.core.v1.Service:
        """The in-cluster name: a headless Service for a stateful pod (its name resolves to the pod
        itself, as Datadog's DBM wants: no proxy between the Agent and the database)."""
        return k8s.core.v1.Service(
            f"{name}-service", metadata=self._meta(spec.alias, selector),
            spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None" if headless else None, selector=selector,
                ports=[k8s.core.v1.ServicePortArgs(name="main", port=spec.port, target_port=spec.port)]),
            opts=opts)

    def _expose(self, resource_name: str, service_name: str, spec: ContainerSpec, selector: dict, opts,
                published: bool = True, existing: Optional[k8s.core.v1.Service] = None) -> Optional[pulumi.Output[str]]:
        """A Service of the stack's type (with ClusterIP, `existing` serves: kubectl port-forward
        reaches a pod through it); where the user reaches it from their machine ("host:port")."""
        kind = self.settings.service_type if published else "ClusterIP"
        if existing is not None and kind == "ClusterIP":
            service = existing
        else:
            service = k8s.core.v1.Service(
                resource_name, metadata=self._meta(service_name, selector),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type=kind, selector=selector,
                    ports=[k8s.core.v1.ServicePortArgs(name="main", port=spec.port, target_port=spec.port)]),
                opts=opts)
        if not published:
            return None
        if kind == "NodePort":
            return service.spec.ports.apply(lambda ports: f"{self.settings.node_address}:{ports[0].node_port}")
        if kind == "LoadBalancer":
            return service.status.apply(lambda status: f"{_ingress_host(status)}:{spec.port}")
        self.port_forwards.append(pulumi.Output.concat(
            "kubectl -n ", self.namespace, f" port-forward --address {self.settings.local_host} svc/",
            service.metadata.name, f" {spec.host_port}:{spec.port}"))
        return pulumi.Output.from_input(f"{self.settings.local_host}:{spec.host_port}")

    def _only_clients(self, name: str, spec: ContainerSpec, selector: dict, opts) -> None:
        """Only the pods labelled database clients (the workload, the exporter, the Agent) connect."""
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy", metadata=self._meta(f"{spec.alias}-clients", selector),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector), policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={CLIENT_LABEL: "true"})),
                        # the Datadog Agent, in a namespace of its own (kubernetes_agent.py)
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                match_labels={CLIENT_NAMESPACE_LABEL: self.settings.namespace}),
                            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={CLIENT_LABEL: "true"}))],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=spec.port, protocol="TCP")])]),
            opts=opts)


def _ingress_host(status) -> str:
    ingress = (status.load_balancer.ingress or [None])[0] if status and status.load_balancer else None
    return (ingress.ip or ingress.hostname) if ingress else "pending"
