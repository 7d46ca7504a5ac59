"""The lab on a real Kubernetes cluster, through the real Pulumi CLI and the real
pulumi-resource-kubernetes (built by .ci/build-cluster-tools), on its own stack.

The cluster is the one-node cluster .ci/install-tools starts (.ci/cluster/up), or the one
$CREDIT_LAB_KUBECONFIG names (its images must then be pullable or loaded). The lab's images reach
our cluster's containerd from the Docker Engine (.ci/cluster/load-images, as `kind load` does);
the workload's image is built from workload/ the way the program builds it and given as
`workloadImage`. Services are NodePorts on the node's address, which is this machine's own.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pulumi import automation as auto

from tests.integration import images, real_lab, tools

REPO = real_lab.REPO
STACK = "ktest"
NAMESPACE = f"{real_lab.PROJECT}-{STACK}"
# The one-node cluster's node address (.ci/cluster/env NODE_IP): NodePorts answer there.
NODE_IP = "10.244.0.1"
OWN_KUBECONFIG = Path("/var/lib/credit-lab-cluster/etc/admin.conf")


# .ci/run has .ci/install-tools start the cluster in the background (.ci/cluster/start, with the cold
# Go builds) while the suite's Docker tests run: its pid, exit status and log, which say when it is done.
START_PID, START_STATUS, START_LOG = (tools.TOOLS / f"cluster-start.{kind}" for kind in ("pid", "status", "log"))
# Cold, those builds ended 32 minutes in, sharing the 2 cores with the Pulumi CLI's build and the
# Docker tests (tests/README.md, Measured): twice that.
START_DEADLINE_S = 2 * 32 * 60


def _running(pid: int) -> bool:
    """Whether the process runs (a zombie, exited but not reaped by its new parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait_for_the_background_start() -> None:
    """Returns when no start runs in the background (at once when install-tools started the cluster
    itself); a start that failed fails here with the end of its log."""
    if not START_PID.is_file():
        return
    pid = int(START_PID.read_text())
    real_lab.wait_for(f"the cluster's start in the background (pid {pid}, log {START_LOG})",
                      lambda: not _running(pid), START_DEADLINE_S, poll_s=2)
    status = START_STATUS.read_text().strip() if START_STATUS.is_file() else "none: it was stopped"
    if status != "0":
        tail = "\n".join(START_LOG.read_text(errors="replace").splitlines()[-30:]) if START_LOG.is_file() else ""
        raise RuntimeError(f".ci/cluster/start failed in the background (exit status {status}); "
                           f"the end of {START_LOG}:\n{tail}")


def kubeconfig() -> Path:
    given = os.environ.get("CREDIT_LAB_KUBECONFIG")
    found = Path(given) if given else OWN_KUBECONFIG
    if not found.is_file():
        raise FileNotFoundError(f"{found}: no cluster: run `bash .ci/install-tools` (it starts one)")
    return found


def kubectl_run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(tools.cluster_bin() / "kubectl"), f"--kubeconfig={kubeconfig()}", *args],
                          capture_output=True, text=True, timeout=timeout)


def kubectl(*args: str, timeout: float = 120) -> str:
    run = kubectl_run(*args, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {run.stderr.strip()}")
    return run.stdout


def kubectl_json(*args: str) -> dict:
    return json.loads(kubectl(*args, "-o", "json"))


def workload_image() -> str:
    """The workload's image, built as the program declares it, in the cluster's image store."""
    reference = images.workload()
    if not os.environ.get("CREDIT_LAB_KUBECONFIG"):
        subprocess.run(["bash", str(REPO / ".ci" / "cluster" / "load-images"), reference], check=True,
                       capture_output=True, timeout=600)
    return reference


def base_config() -> dict[str, str]:
    return {"platform": "kubernetes", "serviceType": "NodePort", "nodeAddress": NODE_IP,
            "workloadImage": workload_image(), "kubernetes:kubeconfig": str(kubeconfig())}


@dataclass
class ClusterLab:
    stack: auto.Stack
    home: Path
    outputs: dict

    def output(self, name: str):
        return self.outputs[name].value

    def up(self, **kwargs) -> "ClusterLab":
        self.outputs = self.stack.up(color="never", **kwargs).outputs
        return self


def prepare(config: dict[str, str] | None = None, secret: dict[str, str] | None = None) -> ClusterLab:
    home = Path(tempfile.mkdtemp(prefix="credit-lab-cluster-"))
    options = real_lab.workspace(home, packages=("kubernetes", "docker", "random"))
    stack = auto.create_or_select_stack(STACK, project_name=real_lab.PROJECT, program=real_lab._program, opts=options)
    values = {key: auto.ConfigValue(value) for key, value in {**base_config(), **(config or {})}.items()}
    values.update({key: auto.ConfigValue(value, secret=True) for key, value in (secret or {}).items()})
    stack.set_all_config(values)
    return ClusterLab(stack, home, {})


AGENT_NAMESPACE = f"{NAMESPACE}-datadog"


def remove_leftovers() -> None:
    """What a killed run left: the test namespaces (and everything in them), the Agent's
    cluster-wide role and binding, the stack file."""
    kubectl("delete", "namespace", NAMESPACE, AGENT_NAMESPACE, "--ignore-not-found", "--wait=true", timeout=300)
    kubectl("delete", "clusterrolebinding,clusterrole", AGENT_NAMESPACE, "--ignore-not-found")
    (REPO / f"Pulumi.{STACK}.yaml").unlink(missing_ok=True)


def destroy(lab: ClusterLab) -> None:
    lab.stack.destroy(color="never")
    lab.stack.workspace.remove_stack(STACK)
    lab.stack = None
    (REPO / f"Pulumi.{STACK}.yaml").unlink(missing_ok=True)
    shutil.rmtree(lab.home, ignore_errors=True)


@contextlib.contextmanager
def running(config: dict[str, str] | None = None, secret: dict[str, str] | None = None):
    """The test stack up for a block (what a killed run left removed first), destroyed after it
    unless the block destroyed it already."""
    remove_leftovers()
    lab = prepare(config, secret).up()
    try:
        yield lab
    finally:
        if lab.stack is not None:
            destroy(lab)
