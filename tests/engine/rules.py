"""Rules of the engines the lab cannot run here, as data: the Agent's host names, the provider's
defaults, host paths on Docker Desktop and Colima. (Docker's and the CLI's name rules are no longer
modelled: the real engine and CLI decide, in integration/test_engine_names.py.)
Each cites its upstream source; tests/CONTRACTS.md lists them with the tests that apply them."""
import re

# DataDog/datadog-agent pkg/util/hostname/validate/validate.go: RFC 1123 host names, at most 255
# characters; an invalid DD_HOSTNAME is ignored (the Agent falls back to other sources).
AGENT_HOSTNAME = re.compile(r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
                            r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])$")
AGENT_HOSTNAME_MAX = 255

# kreuzwerker/terraform-provider-docker resource_docker_container.go: create, update and delete
# each default to 20 minutes; `wait` polls health once a second within `wait_timeout`.
CONTAINER_DEFAULT_TIMEOUT_S = 20 * 60

# Docker docs (logging/drivers/json-file.md) and moby daemon/config/config.go: the default driver
# is json-file, max-size -1 (unlimited), max-file 1. The provider's `log_driver` has no default
# (it means the daemon's): an unset driver is unrotated json-file on a stock daemon.
DAEMON_DEFAULT_LOG_DRIVER = "json-file"
ROTATING_OPTIONS = {"json-file": ("max-size", "max-file"), "local": ()}   # local rotates by default

# Host paths a container may bind-mount, and where they exist. Bind mounts resolve on the daemon's
# host (Docker docs, storage/bind-mounts.md): on Docker Desktop and Colima that is the Linux VM.
# Docker Desktop shares only /Users, /Volumes, /private, /tmp, /var/folders from macOS
# (settings.md, "File sharing") and special-cases /var/run/docker.sock; other paths come from its
# VM, and a path neither shared nor in the VM is refused ("Mounts denied"). Colima: every path
# is the VM's; a missing one is created empty with -v (Colima FAQ).
HOST_PATHS = {
    "/var/run/docker.sock": {"linux": "the daemon's socket", "docker-desktop": "special-cased: the VM daemon's socket",
                             "colima": "the VM daemon's socket"},
    "/proc/": {"linux": "procfs", "docker-desktop": "the VM's procfs", "colima": "the VM's procfs"},
    "/sys/fs/cgroup/": {"linux": "cgroupfs", "docker-desktop": "the VM's cgroupfs", "colima": "the VM's cgroupfs"},
    "/var/lib/docker/containers": {"linux": "json-file logs", "docker-desktop": "the VM's json-file logs",
                                   "colima": "the VM's json-file logs"},
}
# Paths Datadog's recipes mount that do not work everywhere: refused on Docker Desktop, empty in Colima.
NOT_PORTABLE_HOST_PATHS = ("/opt/datadog-agent/run",)
