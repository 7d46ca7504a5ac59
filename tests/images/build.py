"""Puts every image the stack pins on the local Docker Engine, under the exact reference it pins.

A reference that can be pulled is pulled (a machine that reaches the registry gets the real image).
Where it cannot be, the stand-in of that image is built from its folder here (one Dockerfile per
image, each citing the upstream Dockerfile it follows), on a Debian bookworm base made with
`debootstrap` and `docker import` from the machine's own apt mirror. A stand-in is rebuilt only
when its folder or the base changes (a label on the image holds their hash), so a second run costs
seconds. Run from the repository root: `python3 -m tests.images.build`.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from components import settings, versions

IMAGES = Path(__file__).resolve().parent
REPO = IMAGES.parents[1]
BASE = "credit-lab-base/debian:bookworm"
SUITE = "bookworm"
RECIPE_LABEL = "credit-lab.stand-in"
# The machine's own extra trust anchors (a proxy's CA): builds that reach a package index through
# this machine's network need them, as a user's base image trusts the user's network.
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
PULL_TIMEOUT_S = 120
DEBOOTSTRAP = ("--variant=minbase", "--include=ca-certificates")


@dataclass(frozen=True)
class StandIn:
    reference: str
    """The exact reference the stack pins."""
    folder: str
    """Its stand-in's folder under tests/images/."""
    version: str
    """The upstream version, passed to the build as VERSION."""


def stand_ins() -> list[StandIn]:
    """Every image `pulumi up` needs by default or with ddApiKey: the five pinned in Pulumi.yaml
    and the workload's base, named by workload/Dockerfile's FROM."""
    declared = settings.declarations()
    folders = {"postgresImage": "postgres", "exporterImage": "postgres-exporter",
               "prometheusImage": "prometheus", "grafanaImage": "grafana", "datadogAgentImage": "datadog-agent"}
    found = []
    for key in settings.IMAGE_KEYS:
        reference = declared[key]["default"]
        found.append(StandIn(reference, folders[key], versions.parse(key, reference).text))
    workload_base = re.search(r"(?m)^FROM\s+(\S+)", (REPO / "workload" / "Dockerfile").read_text()).group(1)
    python_version = re.search(r":(\d+\.\d+\.\d+)-", workload_base).group(1)
    found.append(StandIn(workload_base, "python", python_version))
    return found


def docker(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=check, text=True, **kwargs)


def label_of(reference: str) -> str | None:
    """The stand-in recipe label of a local image; '' for an image without one (a real image);
    None when there is no such image."""
    found = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', reference,
                   check=False, capture_output=True)
    if found.returncode != 0:
        return None
    value = found.stdout.strip()
    return "" if value in ("", "<no value>") else value


def folder_hash(*folders: Path, extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(oct(path.stat().st_mode & 0o777).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses for SUITE (deb822 .sources or one-line lists)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"(?m)^(\w[\w-]*):\s*(.+)$", stanza))
            if SUITE in fields.get("Suites", "").split() and "main" in fields.get("Components", ""):
                return fields["URIs"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        for line in (path.read_text().splitlines() if path.is_file() else []):
            parts = re.sub(r"\[[^]]*\]", "", line).split()     # `deb [options] URI SUITE COMPONENTS`
            if len(parts) >= 4 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    raise SystemExit(f"no apt source for Debian {SUITE} on this machine (/etc/apt/sources.list*): "
                     "the base image is made from the machine's own mirror")


def ensure_base(work: Path) -> str:
    """The Debian base every stand-in starts FROM; returns its recipe hash."""
    host_cas = sorted(HOST_CA_DIR.glob("*.crt")) if HOST_CA_DIR.is_dir() else []
    recipe = hashlib.sha256(" ".join([*DEBOOTSTRAP, SUITE, *(p.read_text() for p in host_cas)]).encode()).hexdigest()[:16]
    if label_of(BASE) == recipe:
        return recipe
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap not found: apt-get install debootstrap (.ci/install-tools does)")
    rootfs = work / "rootfs"
    mirror = apt_mirror()
    print(f"+ debootstrap --variant=minbase {SUITE} (mirror {mirror})", flush=True)
    subprocess.run(["debootstrap", *DEBOOTSTRAP, SUITE, str(rootfs), mirror],
                   check=True, stdout=subprocess.DEVNULL)
    for ca in host_cas:
        shutil.copy(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
    subprocess.run(["chroot", str(rootfs), "update-ca-certificates"], check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    docker("import", "--change", f"LABEL {RECIPE_LABEL}={recipe}", "--change", 'CMD ["bash"]',
           "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "-", BASE, stdin=tar.stdout, stdout=subprocess.DEVNULL)
    if tar.wait() != 0:
        raise SystemExit("tar of the debootstrap rootfs failed")
    return recipe


def pulled(reference: str) -> bool:
    try:
        return docker("pull", "--quiet", reference, check=False, capture_output=True,
                      timeout=PULL_TIMEOUT_S).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def ensure(image: StandIn, base_recipe: str) -> str:
    """'real', 'cached' or 'built': how `image.reference` came to be on the engine."""
    folder = IMAGES / image.folder
    recipe = folder_hash(folder, IMAGES / "trixie-binaries.sh", extra=base_recipe + image.version)[:16]
    current = label_of(image.reference)
    if current == "":
        return "real"
    if current == recipe:
        return "cached"
    if current is None and pulled(image.reference):
        return "real"
    with tempfile.TemporaryDirectory() as context:
        shutil.copytree(folder, context, dirs_exist_ok=True)
        shutil.copy(IMAGES / "trixie-binaries.sh", context)
        docker("build", "--network", "host", "--build-arg", f"VERSION={image.version}",
               "--label", f"{RECIPE_LABEL}={recipe}", "--tag", image.reference, context,
               env={**os.environ, "DOCKER_BUILDKIT": "0"}, stdout=subprocess.DEVNULL)
    return "built"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the references and their stand-in folders")
    args = parser.parse_args()
    if args.list:
        for image in stand_ins():
            print(f"{image.reference}\ttests/images/{image.folder}\t{image.version}")
        return 0
    with tempfile.TemporaryDirectory(prefix="credit-lab-base-") as work:
        started = time.monotonic()
        base = ensure_base(Path(work))
        print(f"base {BASE}: ready in {time.monotonic() - started:.0f} s", flush=True)
    for image in stand_ins():
        started = time.monotonic()
        how = ensure(image, base)
        print(f"{image.reference}: {how} in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
