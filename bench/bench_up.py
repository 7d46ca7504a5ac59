"""The lab's lifecycle on the real engines: `pulumi up` to all healthy, a second `up`, `destroy`.

Runs the same test stack as tests/integration/test_real_lab.py (its own name and ports; the real
Pulumi CLI and Docker Engine, the stand-in providers and images: README, "Tests"). Prints, not asserts:
- cold `up`: the workload image built during it (removed first with --cold), the database
  initialized and seeded at the default 100,000 customers, until the CLI returns (PostgreSQL is
  waited on healthy inside it) and until Docker reports every container healthy;
- a no-change `up` right after, and the changes it reports;
- each container's peak memory next to its limit, over a steady run and a `workloadRate=max` run
  of --load-seconds each (300 by default; 0 skips them);
- `destroy`, until nothing of the stack is left.
    python bench/bench_up.py [--cold] [--load-seconds N]
"""
import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workload"))

from pulumi import automation as auto  # noqa: E402

from tests.integration import real_lab  # noqa: E402

HEALTH_DEADLINE_S = 300


def all_healthy(lab: real_lab.Lab) -> bool:
    containers = lab.containers()
    for container in containers.values():
        container.reload()
    return bool(containers) and all(c.attrs["State"].get("Health", {}).get("Status") == "healthy"
                                    for c in containers.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="remove the stack's workload image first")
    parser.add_argument("--load-seconds", type=float, default=300, help="length of the steady and max runs")
    args = parser.parse_args()
    client = real_lab.engine()
    real_lab.remove_leftovers(client)
    if args.cold:
        for image in client.images.list():
            if any(tag.startswith(f"{real_lab.PREFIX}-workload:") for tag in image.tags):
                client.images.remove(image.id, force=True)

    started = time.monotonic()
    lab = real_lab.up()
    up_s = time.monotonic() - started
    deadline = started + HEALTH_DEADLINE_S
    while not all_healthy(lab) and time.monotonic() < deadline:
        time.sleep(0.5)
    healthy_s = time.monotonic() - started
    try:
        started = time.monotonic()
        second = lab.stack.up(color="never")
        again_s = time.monotonic() - started
        changes = {k: v for k, v in (second.summary.resource_changes or {}).items() if k != "same"}
        memory = {}
        if args.load_seconds > 0:
            for rate in (None, "max"):   # the default rate (steady), then unpaced
                if rate:
                    lab.stack.set_config("workloadRate", auto.ConfigValue(rate))
                    lab.stack.up(color="never")
                with real_lab.MemoryPeaks(lab) as peaks:
                    threading.Event().wait(args.load_seconds)
                memory[rate or "default rate"] = peaks.report()
    finally:
        started = time.monotonic()
        real_lab.destroy(lab)
        destroy_s = time.monotonic() - started
    print(f"cold up{' (workload image built)' if args.cold else ''}: CLI returned in {up_s:.1f} s, "
          f"all containers healthy at {healthy_s:.1f} s{'' if healthy_s < HEALTH_DEADLINE_S else ' (NOT all healthy)'}")
    print(f"second up: {again_s:.1f} s, changes {changes or 'none'}")
    for run, report in memory.items():
        print(f"peak memory over {args.load_seconds:.0f} s at workloadRate={run}:\n{report}")
    print(f"destroy: {destroy_s:.1f} s, left: {real_lab.leftovers(client)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
