"""The Docker healthcheck of the lab's HTTP services: busybox `wget` against the process's own port.

The exporter, Prometheus and Grafana images are busybox- or Alpine-based: `wget` is there, `curl`
is not (tests/CONTRACTS.md has each image's source).
"""


def http(port: int, path: str) -> list[str]:
    """Docker healthcheck test (exec form): healthy while http://127.0.0.1:<port><path> answers 2xx."""
    return ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}"]
