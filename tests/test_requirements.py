"""requirements-dev.txt installs everything the tests import: a fresh virtualenv made from it alone
(no site packages of this machine) collects exactly the tests this interpreter collects. A module
the machine happens to have but no requirement names (as `docker` once was) stops its collection."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# uv resolves and installs from its cache in seconds; the first run on a machine downloads.
INSTALL_TIMEOUT_S = 600


def _collected(python: str) -> tuple[int, list[str], str]:
    run = subprocess.run([python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=REPO,
                         capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")})
    return run.returncode, sorted(line for line in run.stdout.splitlines() if "::" in line), run.stdout + run.stderr


def test_a_fresh_virtualenv_from_requirements_dev_collects_every_test():
    with tempfile.TemporaryDirectory(prefix="credit-lab-venv-") as folder:
        venv = Path(folder) / "venv"
        subprocess.run([sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, str(venv)],
                       check=True, timeout=INSTALL_TIMEOUT_S)
        subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                        "-r", str(REPO / "requirements-dev.txt")], check=True, timeout=INSTALL_TIMEOUT_S)
        code, fresh, output = _collected(str(venv / "bin" / "python"))
    assert code == 0, f"collection fails in a virtualenv made from requirements-dev.txt alone:\n{output[-3000:]}"
    _, here, _ = _collected(sys.executable)
    assert here, "this interpreter collects no test"
    assert fresh == here, f"collected only here: {sorted(set(here) - set(fresh))[:10]}"
