"""The lab on a real Kubernetes cluster (issue 27): `pulumi up` with `platform=kubernetes` by the real
Pulumi CLI and the real pulumi-resource-kubernetes, on the one-node cluster .ci/install-tools starts
(tests/cluster/cluster.py). Every pod Ready, running as its image's non-root user under the
namespace's restricted Pod Security; the URLs answer (NodePort); the DSN connects and finds the seed;
Prometheus scrapes the exporter and Grafana's datasource reaches Prometheus; no change planned after
`up` nor after `refresh`; the database pod deleted comes back with every row; a scenario change
rolls only the workload; new passwords keep every row and lock the old one out; `destroy` leaves
nothing and removes the namespace.
"""
from __future__ import annotations

import json
import secrets

import psycopg2
import pytest
from pulumi import automation as auto

from components import topology
from components.platforms import kubernetes as k8s_platform
from tests.cluster import cluster
from tests.integration import real_lab

SEED = 2000          # a small seed: the Kubernetes path is what is tested, not the seed's size


@pytest.fixture(scope="module")
def lab():
    with cluster.running(config={"seedCustomers": str(SEED)}) as lab:
        yield lab


def _pods() -> list[dict]:
    return cluster.kubectl_json("-n", cluster.NAMESPACE, "get", "pods")["items"]


def _by_app(pods: list[dict]) -> dict[str, dict]:
    return {pod["metadata"]["labels"][k8s_platform.NAME_LABEL]: pod for pod in pods}


def _ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _wait_all_ready(names: set[str], deadline_s: float) -> dict[str, dict]:
    def ready():
        pods = [p for p in _pods() if not p["metadata"].get("deletionTimestamp")]
        by_app = _by_app(pods)
        return by_app if set(by_app) == names and len(pods) == len(names) and all(map(_ready, pods)) else None
    return real_lab.wait_for(f"pods {sorted(names)} Ready", ready, deadline_s)


APPS = {topology.POSTGRES_ALIAS, topology.EXPORTER_ALIAS, topology.PROMETHEUS_ALIAS, topology.GRAFANA_ALIAS,
        topology.WORKLOAD_ALIAS}


def test_every_pod_is_ready_as_its_images_non_root_user_under_restricted_pod_security(lab):
    namespace = cluster.kubectl_json("get", "namespace", cluster.NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == k8s_platform.POD_SECURITY
    pods = _wait_all_ready(APPS, deadline_s=120)
    for app, pod in pods.items():
        security = pod["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, (app, security)
        (container,) = pod["spec"]["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, app
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], app
        assert container["resources"]["limits"]["memory"] == container["resources"]["requests"]["memory"], app
    # Admission enforces the standard: a pod that runs as root is refused.
    refused = cluster.kubectl_run("-n", cluster.NAMESPACE, "run", "root-probe", "--image=postgres:15.18-alpine",
                                  "--image-pull-policy=Never", "--restart=Never", "--dry-run=server",
                                  "--overrides", json.dumps({"spec": {"securityContext": {"runAsUser": 0}}}))
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stdout + refused.stderr


def test_the_urls_answer_and_prometheus_scrapes_the_exporter_through_grafana(lab):
    real_lab.check_the_urls_answer(lab.outputs)


def test_the_dsn_connects_and_finds_the_seed(lab):
    dsn = lab.outputs["postgresDsn"]
    assert dsn.secret
    _, seeded, _ = real_lab.database_state(dsn.value, SEED)
    assert seeded == SEED


def test_no_change_is_planned_after_up_nor_after_refresh(lab):
    lab.stack.preview(color="never", expect_no_changes=True)
    lab.stack.refresh(color="never")
    lab.stack.preview(color="never", expect_no_changes=True)


def test_no_secret_is_in_a_config_map_or_in_clear_in_the_state(lab):
    """The backend's state files hold the passwords only encrypted (export_stack would decrypt them)."""
    state = "\n".join(path.read_text() for path in (lab.home / "state").rglob("*.json"))
    assert '"ciphertext"' in state
    password = lab.output("postgresDsn").split(":")[2].split("@")[0]
    assert len(password) >= 16 and password not in state
    config_maps = json.dumps(cluster.kubectl_json("-n", cluster.NAMESPACE, "get", "configmaps"))
    assert password not in config_maps and lab.output("grafanaAdminPassword") not in config_maps


def test_the_database_pod_deleted_comes_back_with_every_row(lab):
    dsn = lab.output("postgresDsn")
    before = real_lab.database_state(dsn, SEED)
    assert before[2], "the workload added no customer yet: nothing to prove kept"
    uid = _by_app(_pods())[topology.POSTGRES_ALIAS]["metadata"]["uid"]
    cluster.kubectl("-n", cluster.NAMESPACE, "delete", "pod", f"{topology.POSTGRES_ALIAS}-0", "--wait=true",
                    timeout=180)

    def back():
        pods = _by_app([p for p in _pods() if not p["metadata"].get("deletionTimestamp")])
        pod = pods.get(topology.POSTGRES_ALIAS)
        return pod if pod and pod["metadata"]["uid"] != uid and _ready(pod) else None
    real_lab.wait_for("a new PostgreSQL pod Ready", back, deadline_s=180)
    after = real_lab.wait_for("the DSN answers again", lambda: real_lab.database_state(dsn, SEED), deadline_s=60)
    assert after[0] == before[0], "a new cluster was initialized: the claim was not kept"
    assert after[1] == SEED and before[2] <= after[2], "rows lost"


def test_a_scenario_change_rolls_only_the_workload(lab):
    before = {app: pod["metadata"]["uid"] for app, pod in _by_app(_pods()).items()}
    lab.stack.set_config("workloadScenario", auto.ConfigValue("lock-contention"))
    try:
        lab.up()
        after = _wait_all_ready(APPS, deadline_s=180)
        rolled = {app for app in APPS if after[app]["metadata"]["uid"] != before[app]}
        assert rolled == {topology.WORKLOAD_ALIAS}, f"rolled: {sorted(rolled)}"
    finally:
        lab.stack.remove_config("workloadScenario")
        lab.up()


def test_new_passwords_keep_every_row_and_lock_the_old_one_out(lab):
    old_dsn = lab.output("postgresDsn")
    identifier, _, added = real_lab.database_state(old_dsn, SEED)
    new = {key: secrets.token_hex(12) for key in ("postgresPassword", "workloadPassword", "exporterPassword")}
    lab.stack.set_all_config({key: auto.ConfigValue(value, secret=True) for key, value in new.items()})
    lab.up()
    dsn = lab.output("postgresDsn")
    assert f":{new['postgresPassword']}@" in dsn
    after = real_lab.wait_for("the database answers with the new password", lambda: real_lab.database_state(dsn, SEED), 120)
    assert after[0] == identifier and after[1] == SEED and added <= after[2]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(old_dsn, connect_timeout=10).close()
    real_lab.wait_for("the exporter connects with its new password",
                      lambda: b"\npg_up 1\n" in real_lab.http_get(lab.output("exporterUrl"))[1], deadline_s=60)
    _wait_all_ready(APPS, deadline_s=180)


def test_destroy_leaves_nothing_and_removes_the_namespace(lab):
    cluster.destroy(lab)
    assert cluster.kubectl("get", "namespace", cluster.NAMESPACE, "--ignore-not-found").strip() == "", \
        "the namespace is still there after destroy"

    def volumes_released():   # the claims' volumes go with them (reclaim policy Delete), asynchronously
        left = [pv["metadata"]["name"] for pv in cluster.kubectl_json("get", "persistentvolumes")["items"]
                if (pv["spec"].get("claimRef") or {}).get("namespace") == cluster.NAMESPACE]
        return not left or None
    real_lab.wait_for("the lab's volumes deleted", volumes_released, deadline_s=120)
