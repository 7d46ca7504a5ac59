"""The lab's lifecycle on the real one-node Kubernetes cluster: `pulumi up` until every pod is Ready,
a second `up`, `destroy` until the namespace is gone, beside bench_up.py's Docker numbers.

Runs the stack of tests/cluster/test_real_cluster.py (the real Pulumi CLI and pulumi-resource-kubernetes,
NodePort Services, the workload image loaded into the cluster: tests/README.md) at the default seed
(100,000 customers). Prints, not asserts.
    python bench/bench_up_kubernetes.py [--runs N]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workload"))

from tests.cluster import cluster  # noqa: E402

READY_DEADLINE_S = 300


def all_ready() -> bool:
    pods = cluster.kubectl_json("-n", cluster.NAMESPACE, "get", "pods")["items"]
    return bool(pods) and all(any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
                              for p in pods if not p["metadata"].get("deletionTimestamp"))


def one_run() -> dict:
    cluster.remove_leftovers()
    lab = cluster.prepare()
    started = time.monotonic()
    lab.up()
    result = {"up": time.monotonic() - started}
    deadline = started + READY_DEADLINE_S
    while not all_ready() and time.monotonic() < deadline:
        time.sleep(0.5)
    result["ready"] = time.monotonic() - started
    try:
        started = time.monotonic()
        second = lab.stack.up(color="never")
        result["second up"] = time.monotonic() - started
        result["changes"] = {k: v for k, v in (second.summary.resource_changes or {}).items() if k != "same"}
    finally:
        started = time.monotonic()
        cluster.destroy(lab)
        result["destroy"] = time.monotonic() - started
    result["left"] = cluster.kubectl("get", "namespace", cluster.NAMESPACE, "--ignore-not-found").strip() or "nothing"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    for number in range(1, args.runs + 1):
        r = one_run()
        print(f"run {number}: up (CLI returned, every workload awaited Ready) {r['up']:.1f} s, all pods Ready at "
              f"{r['ready']:.1f} s; second up {r['second up']:.1f} s, changes {r['changes'] or 'none'}; "
              f"destroy {r['destroy']:.1f} s, left: {r['left']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
