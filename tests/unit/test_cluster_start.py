"""The cluster's tests wait for the start .ci/run leaves in the background (tests/cluster/cluster.py
wait_for_the_background_start): on real processes, with the pid, status and log files it leaves."""
import subprocess
import sys
import threading

import pytest

from tests.cluster import cluster

# What .ci/install-tools runs in the background, in small: the start's output, then its exit status.
START = 'import sys; print("== cluster ready"); sys.stdin.read(); open(sys.argv[1], "w").write(sys.argv[2])'


@pytest.fixture
def start_files(tmp_path, monkeypatch):
    files = {kind: tmp_path / f"cluster-start.{kind}" for kind in ("pid", "status", "log")}
    monkeypatch.setattr(cluster, "START_PID", files["pid"])
    monkeypatch.setattr(cluster, "START_STATUS", files["status"])
    monkeypatch.setattr(cluster, "START_LOG", files["log"])
    return files


def _start(files, status: str) -> subprocess.Popen:
    with files["log"].open("w") as log:
        process = subprocess.Popen([sys.executable, "-c", START, str(files["status"]), status],
                                   stdin=subprocess.PIPE, stdout=log, text=True)
    files["pid"].write_text(str(process.pid))
    return process


def test_no_start_in_the_background_returns_at_once(start_files):
    cluster.wait_for_the_background_start()
    assert not start_files["pid"].exists()


def test_a_running_start_is_waited_for(start_files):
    process = _start(start_files, "0")
    errors = []
    waiter = threading.Thread(target=_record, args=(errors, cluster.wait_for_the_background_start))
    waiter.start()              # while the start runs: without waiting it would find no status
    process.communicate("")     # the start finishes: it writes its status 0 and exits
    waiter.join(cluster.START_DEADLINE_S)
    assert not waiter.is_alive() and errors == [], errors


def test_a_failed_start_fails_with_its_status_and_the_end_of_its_log(start_files):
    process = _start(start_files, "3")
    process.communicate("")
    with pytest.raises(RuntimeError, match=r"exit status 3\).*\n== cluster ready"):
        cluster.wait_for_the_background_start()


def test_a_stopped_start_fails(start_files):
    process = _start(start_files, "0")
    process.kill()
    process.wait()
    with pytest.raises(RuntimeError, match="none: it was stopped"):
        cluster.wait_for_the_background_start()


def _record(errors: list, function) -> None:
    try:
        function()
    except Exception as error:  # noqa: BLE001 - reported by the test's assertion
        errors.append(error)
