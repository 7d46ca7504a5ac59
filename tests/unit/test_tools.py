"""The tools the tests run are the versions the project pins (.ci/install-tools builds them)."""
import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pinned_pulumi() -> str:
    return re.search(r"(?m)^pulumi==([0-9.]+)$", (ROOT / "requirements.txt").read_text()).group(1)


def test_the_cli_module_builds_the_version_requirements_pins():
    go_mod = (ROOT / ".ci" / "go" / "pulumi" / "go.mod").read_text()
    required = dict(re.findall(r"(?m)^\s*github\.com/pulumi/pulumi/(pkg|sdk)/v3 v([0-9.]+)", go_mod))
    pinned = _pinned_pulumi()
    assert required == {"pkg": pinned, "sdk": pinned}, (
        f".ci/go/pulumi requires {required}, requirements.txt pins pulumi=={pinned}: the CLI and the SDK "
        "must be one version")
    assert metadata.version("pulumi") == pinned, "the installed Python SDK is not the pinned one"

