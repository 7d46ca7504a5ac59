"""Where the native tools live (installed by .ci/install-tools): the Pulumi CLI the real-lab tests
drive, and the benchmarks' PostgreSQL client tools and workload virtualenv.

A missing binary is a failure with the command that installs it, never a skip.
"""
import os
import shutil
from pathlib import Path

PG_BIN = Path(os.environ.get("CREDIT_LAB_PG_BIN", "/usr/lib/postgresql/15/bin"))
TOOLS = Path(os.environ.get("CREDIT_LAB_TOOLS", "/opt/credit-lab-tools"))


def binary(name: str) -> Path:
    """Path of a native binary: PostgreSQL's from PG_BIN, the rest from TOOLS/usr/bin."""
    for candidate in (PG_BIN / name, TOOLS / "usr" / "bin" / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name) if name in ("psql", "pgbench") else None
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"{name} not found in {PG_BIN} or {TOOLS}/usr/bin: run `bash .ci/install-tools` first")


# The workload image installs workload/requirements.txt, and nothing else, into its Python
# (workload/Dockerfile); .ci/install-tools builds the same into this virtualenv, in which the
# benchmarks run the workload's processes on the host (to measure their CPU).
WORKLOAD_VENV = TOOLS / "workload-venv"


def workload_venv() -> Path:
    """The workload's own virtualenv (only workload/requirements.txt installed)."""
    if not (WORKLOAD_VENV / "bin" / "python").exists():
        raise FileNotFoundError(f"{WORKLOAD_VENV} missing: run `bash .ci/install-tools` first")
    return WORKLOAD_VENV


def pulumi_cli() -> Path:
    """The Pulumi CLI: the one .ci/install-tools built at the Python SDK's version, else one on
    PATH of that version or newer (3.x), as install-tools accepts it."""
    import subprocess
    from importlib import metadata
    version = metadata.version("pulumi")
    built = TOOLS / "pulumi" / f"v{version}" / "bin" / "pulumi"
    if built.is_file():
        return built
    found = shutil.which("pulumi")
    if found:
        have = subprocess.run([found, "version"], capture_output=True, text=True).stdout.strip().lstrip("v")
        as_tuple = lambda text: tuple(int(part) for part in text.split(".")[:3] if part.isdigit())  # noqa: E731
        if have.startswith("3.") and as_tuple(have) >= as_tuple(version):
            return Path(found)
    raise FileNotFoundError(f"no Pulumi CLI v{version} or newer in {built.parent} or on PATH: "
                            "run `bash .ci/install-tools`")


REPO = Path(__file__).resolve().parents[2]


def _go_mod_require(module_folder: str, module: str) -> str:
    """The version a wrapper module under .ci/go requires of `module` (its go.mod: one place)."""
    text = (REPO / ".ci" / "go" / module_folder / "go.mod").read_text()
    for line in text.splitlines():
        parts = line.replace("require ", "").split()
        if len(parts) >= 2 and parts[0] == module:
            return parts[1]
    raise KeyError(f".ci/go/{module_folder}/go.mod requires no {module}")


def kubernetes_provider() -> Path:
    """pulumi-resource-kubernetes as .ci/build-cluster-tools builds it: from the provider module's
    one served version, stamped with the version of the SDK requirements.txt pins."""
    from importlib import metadata
    module = _go_mod_require("pulumi-kubernetes", "github.com/pulumi/pulumi-kubernetes/provider/v4")
    built = TOOLS / "pulumi-kubernetes" / f"{module}-as-{metadata.version('pulumi_kubernetes')}" / "pulumi-resource-kubernetes"
    if not built.is_file():
        raise FileNotFoundError(f"{built} missing: run `bash .ci/install-tools` (it runs .ci/build-cluster-tools)")
    return built


def cluster_bin() -> Path:
    """The one-node cluster's binaries (kubectl, crictl ...), as .ci/build-cluster-tools builds them."""
    version = _go_mod_require("kubernetes", "k8s.io/kubernetes")
    found = TOOLS / "kubernetes" / version / "bin"
    if not (found / "kubectl").is_file():
        raise FileNotFoundError(f"{found}/kubectl missing: run `bash .ci/install-tools`")
    return found
