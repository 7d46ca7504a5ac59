"""A model of the Docker engine that runs the lab's containers natively, as Docker would.

What it models, each from the source named in tests/CONTRACTS.md:
- a user-defined bridge network: a Linux bridge with its own subnet; each container is a network
  namespace with one address on it, and finds the others by alias (Docker's embedded DNS, here
  /etc/hosts);
- a container's filesystem: the image's own files, users and directories (tests/engine/images.py),
  the uploads laid out the way pulumi-docker and the daemon write them (tests/engine/provider.py),
  and named volumes, populated from the image on first use;
- a container's process: ENTRYPOINT + CMD as PID 1 of its own PID namespace, as the image's USER,
  with Docker's default capability set, its env (image ENV, then the container's), WORKDIR,
  /dev/shm of `shm_size`, and the stop signal then SIGKILL after the stop timeout;
- `docker exec`: a second process in the same filesystem and network, as the container's user
  (how healthchecks run).

The binaries are this machine's: Debian's PostgreSQL 15, the exporter and Prometheus of the pinned
versions, this Python. Each image model says which host paths stand in for the image's.
Needs root, as the daemon does (namespaces, bridges, chown); CI runs as root.
"""
from __future__ import annotations

import atexit
import dataclasses
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from tests.engine import provider
from tests.engine.images import ImageModel

# moby oci/caps/defaults.go (DefaultCapabilities): what a container's root keeps.
DOCKER_DEFAULT_CAPS = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                       "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                       "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
DEFAULT_SHM_MB = 64            # docker run --shm-size default
DEFAULT_STOP_TIMEOUT_S = 10    # docker stop's default grace period
DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SUBNET = "10.213"
# Top-level host entries a container never sees (the kernel's or this machine's own).
_HOST_ONLY = {"proc", "dev", "sys", "tmp", "lost+found", "old_root", "root", "home", "work", "farm", "mnt",
              "media", "srv", "boot", ".dockerenv", "container_info.json", "pyenv-installer"}


def _require_root():
    if os.geteuid() != 0:
        raise RuntimeError("the Docker engine model needs root (namespaces, bridges, file owners), "
                           "as the Docker daemon does: run the tests as root")
    for tool in ("bwrap", "nsenter", "ip", "setpriv"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: run `bash .ci/install-tools` (Debian bubblewrap, util-linux, "
                               "iproute2)")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _forwarding(bridge: str, action: str) -> None:
    """Let the bridge forward between its own ports (`-I` adds, `-D` removes the rule). A running
    dockerd sets the FORWARD policy to DROP and makes bridged frames pass through iptables
    (br_netfilter): Docker adds such a rule for each network it makes, and so does the model."""
    if shutil.which("iptables") is None:
        return
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    present = subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode == 0
    if (action == "-I") != present:
        subprocess.run(["iptables", action, *rule], check=True, capture_output=True)


ENGINE_RUN_DIR = Path("/run/credit-lab-engine")


def _remove_stale_networks() -> None:
    """Bridges and namespaces left by a test run that was killed (atexit never ran)."""
    if not ENGINE_RUN_DIR.is_dir():
        return
    for folder in ENGINE_RUN_DIR.iterdir():
        try:
            owner = int((folder / "owner-pid").read_text())
            os.kill(owner, 0)
            continue                     # its run is alive
        except (OSError, ValueError):
            pass
        for namespace in _ip("netns", "list").stdout.split("\n"):
            if namespace.startswith(f"{folder.name}-"):
                name = namespace.split()[0]
                # A killed run leaves its containers' processes: PID 1 of a PID namespace ignores
                # the SIGKILL of bwrap's --die-with-parent, and a namespace lives on while a
                # process is in it (`ip netns del` only unmounts its name). Kill them first.
                for pid in _ip("netns", "pids", name, check=False).stdout.split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (OSError, ValueError):
                        pass
                _ip("netns", "del", name, check=False)
        _ip("link", "del", folder.name, check=False)
        _forwarding(folder.name, "-D")
        shutil.rmtree(folder, ignore_errors=True)


class Network:
    """A user-defined bridge network (docker network create): own subnet, the host at .1."""

    _taken: set[int] = set()
    _last_index = 0

    def __init__(self, name: str = "lab"):
        _require_root()
        self.name = name
        _remove_stale_networks()
        used = {int(m) for m in re.findall(rf"inet {SUBNET}\.(\d+)\.", _ip("-4", "-o", "addr").stdout)}
        # The next free subnet after the last one this run used, not the lowest: the kernel tears a
        # deleted namespace down asynchronously. Once a test's connection to a server at .2 hung,
        # established on the host with no socket in the live container: most likely it reached a
        # namespace of a just-removed network that still held the same address.
        order = [(Network._last_index + k) % 249 + 1 for k in range(249)]
        self.index = next(i for i in order if i not in used and i not in Network._taken)
        Network._taken.add(self.index)
        Network._last_index = self.index
        self.bridge = f"clab{self.index}"
        self.gateway = f"{SUBNET}.{self.index}.1"
        self._hosts: dict[str, str] = {}            # alias -> address
        self._next_host = itertools.count(2)
        self._namespaces: dict[str, tuple[str, str]] = {}   # namespace -> (alias, address)
        self.work_dir = ENGINE_RUN_DIR / self.bridge
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "owner-pid").write_text(str(os.getpid()))
        self.hosts_file = self.work_dir / "hosts"
        # Docker points a container on a user-defined network at its embedded DNS server,
        # 127.0.0.11. Here nothing answers there, so an unknown name fails at once (as an alias
        # that is not on the network does), instead of waiting on this machine's resolver.
        self.resolv_file = self.work_dir / "resolv.conf"
        self.resolv_file.write_text("nameserver 127.0.0.11\noptions ndots:0\n")
        _ip("link", "add", self.bridge, "type", "bridge")
        _forwarding(self.bridge, "-I")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        self._write_hosts()
        atexit.register(self.remove)

    def attach(self, alias: str) -> tuple[str, str]:
        """A namespace with one address on the bridge, known as `alias`: (namespace, address)."""
        number = next(self._next_host)
        address = f"{SUBNET}.{self.index}.{number}"
        namespace = f"{self.bridge}-{alias}-{number}"
        # Unique names: the kernel tears a deleted namespace (and its veth pair) down
        # asynchronously, so a name derived from the address could still be taken.
        suffix = secrets.token_hex(5)
        host_end, inner_end = f"clh{suffix}", f"clc{suffix}"
        _ip("netns", "add", namespace)
        self._namespaces[namespace] = (alias, address)
        _ip("link", "add", host_end, "type", "veth", "peer", "name", inner_end)
        _ip("link", "set", inner_end, "netns", namespace)
        _ip("link", "set", host_end, "master", self.bridge, "up")
        _ip("-n", namespace, "link", "set", inner_end, "name", "eth0")
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "route", "add", "default", "via", self.gateway)
        self.alias(alias, address)
        return namespace, address

    def alias(self, name: str, address: str) -> None:
        """Make `name` resolve to `address` in every container (e.g. a host-side test server)."""
        self._hosts[name] = address
        self._write_hosts()

    def unalias(self, name: str) -> None:
        self._hosts.pop(name, None)
        self._write_hosts()

    def detach(self, namespace: str) -> None:
        if namespace in self._namespaces:
            _ip("netns", "del", namespace, check=False)   # takes the veth pair with it
            alias, address = self._namespaces.pop(namespace)
            if self._hosts.get(alias) == address:        # not taken over by a newer container
                del self._hosts[alias]
            self._write_hosts()

    def _write_hosts(self) -> None:
        # In place: every container has this very file bind-mounted at /etc/hosts.
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{address}\t{name}" for name, address in self._hosts.items()]
        with open(self.hosts_file, "a+") as handle:
            handle.seek(0)
            handle.truncate()
            handle.write("\n".join(lines) + "\n")

    def remove(self) -> None:
        for namespace in list(self._namespaces):
            self.detach(namespace)
        _ip("link", "del", self.bridge, check=False)
        _forwarding(self.bridge, "-D")
        Network._taken.discard(self.index)
        shutil.rmtree(self.work_dir, ignore_errors=True)


class Volume:
    """A named volume: a directory that outlives containers. A new (empty) volume mounted over a
    directory of the image takes that directory's owner, mode and content (Docker docs, "Populate
    a volume using a container"; moby volume copy-up)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.populated = self.path.exists() and any(self.path.iterdir())
        self.path.mkdir(parents=True, exist_ok=True)

    def mount_into(self, image_dir: Path | None) -> None:
        if self.populated:
            return
        if image_dir is not None and image_dir.is_dir():
            stat = image_dir.stat()
            os.chown(self.path, stat.st_uid, stat.st_gid)
            os.chmod(self.path, stat.st_mode & 0o7777)
            for entry in image_dir.iterdir():
                shutil.copytree(entry, self.path / entry.name, symlinks=True) if entry.is_dir() \
                    else shutil.copy2(entry, self.path / entry.name)
        self.populated = True


@dataclass
class ContainerConfig:
    """What a container is created with (the pulumi-docker Container inputs that matter here)."""
    alias: str
    image: ImageModel
    entrypoint: Sequence[str] | None = None    # None: the image's
    command: Sequence[str] | None = None       # None: the image's CMD (reset when entrypoint is set)
    env: Mapping[str, str] = field(default_factory=dict)
    uploads: Iterable[Mapping] = ()            # pulumi-docker upload blocks: file, content, executable, permissions
    volumes: Mapping[str, Volume] = field(default_factory=dict)   # container path -> volume
    shm_mb: int = DEFAULT_SHM_MB
    stop_signal: str | None = None             # None: the image's STOPSIGNAL
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S
    binds: Mapping[str, Path] = field(default_factory=dict)       # container path -> host path (bind mounts)


class Container:
    """One container on `network`, created (filesystem laid out) but not started."""

    _numbers = itertools.count(1)

    def __init__(self, network: Network, config: ContainerConfig, work_dir: Path):
        self.network, self.config, self.image = network, config, config.image
        self.number = next(Container._numbers)
        self.work_dir = Path(work_dir) / f"{config.alias}-{self.number}"
        self.work_dir.mkdir(parents=True)
        self.rootfs = self.work_dir / "rootfs"          # the image plus the container's writable layer
        self.image.lay_out(self.rootfs)
        provider.lay_uploads(self.rootfs, config.uploads)
        for path, volume in config.volumes.items():
            image_dir = self.rootfs / path.lstrip("/")
            volume.mount_into(image_dir if image_dir.is_dir() else None)
        self.namespace, self.ip = network.attach(config.alias)
        self.hostname = f"{config.alias[:4]}{self.number:08x}"
        self.log_path = self.work_dir / "container.log"
        # (monotonic time, stream, line) of PID 1's output, as json-file keeps it: both streams,
        # each line tagged with the one it came on.
        self.lines: list[tuple[float, str, str]] = []
        self._proc: subprocess.Popen | None = None
        self._pid1: int | None = None
        self._readers: list[threading.Thread] = []
        atexit.register(self.remove)

    # ---- the container's environment, as Docker composes it ------------------------------------
    def env(self) -> dict[str, str]:
        env = {"PATH": DOCKER_DEFAULT_PATH, **self.image.env, **self.config.env}
        env["HOSTNAME"] = self.hostname
        env.setdefault("HOME", self.image.home_of(self.image.user))
        return env

    def argv(self) -> list[str]:
        entrypoint = list(self.config.entrypoint) if self.config.entrypoint is not None else list(self.image.entrypoint)
        if self.config.command is not None:
            command = list(self.config.command)
        else:   # a new entrypoint resets the image's CMD (docker run --entrypoint)
            command = [] if self.config.entrypoint is not None else list(self.image.cmd)
        return entrypoint + command

    def _mounts(self) -> list[str]:
        """bwrap arguments: the host's system directories with the image's and the container's
        files in their place (a merge by bind mounts; the image's own directories replace the
        host's whole)."""
        args: list[str] = []
        opaque = {"/" + p.strip("/") for p in self.image.dirs} | set(self.config.volumes) | set(self.config.binds)

        def merge(host: Path, dest: str, layer: Path) -> None:
            names = {e.name for e in layer.iterdir()} if layer.is_dir() else set()
            if host.is_dir():
                for entry in sorted(host.iterdir()):
                    if entry.name in names or (dest == "" and entry.name in _HOST_ONLY):
                        continue
                    target = f"{dest}/{entry.name}"
                    if entry.is_symlink():
                        args.extend(["--symlink", os.readlink(entry), target])
                    else:
                        args.extend(["--ro-bind", str(entry), target])
            for name in sorted(names):
                entry, target = layer / name, f"{dest}/{name}"
                twin = host / name
                if entry.is_symlink():
                    args.extend(["--symlink", os.readlink(entry), target])
                elif (entry.is_dir() and target not in opaque and twin.is_dir() and not twin.is_symlink()):
                    args.extend(["--tmpfs", target])
                    merge(twin, target, entry)
                else:
                    args.extend(["--bind", str(entry), target])

        merge(Path("/"), "", self.rootfs)
        for path, host in sorted(self.image.host_paths.items()):
            # Its parents exist only for the mount (bwrap makes them 0700): 0755, like an image's.
            for parent in reversed(Path(path).parents[:-1]):
                if not (self.rootfs / str(parent).lstrip("/")).exists() and parent.parts[1] in _HOST_ONLY:
                    args.extend(["--perms", "0755", "--dir", str(parent)])
            args.extend(["--ro-bind", str(host), path])
        for path, volume in sorted(self.config.volumes.items()):
            args.extend(["--bind", str(volume.path), path])
        for path, host in sorted(self.config.binds.items()):
            args.extend(["--bind", str(host), path])
        args.extend(["--proc", "/proc", "--dev", "/dev", "--ro-bind", "/sys", "/sys",
                     "--perms", "1777", "--size", str(self.config.shm_mb * 2**20), "--tmpfs", "/dev/shm",
                     "--ro-bind", str(self.network.hosts_file), "/etc/hosts",
                     "--ro-bind", str(self.network.resolv_file), "/etc/resolv.conf"])
        return args

    def _sandbox(self, argv: Sequence[str], user: str | None, pid1: bool, extra: Sequence[str] = ()) -> list[str]:
        user = self.image.user if user is None else user
        command = [*self.image.run_as(user), *argv]
        caps = ["--cap-drop", "ALL"] + [a for cap in DOCKER_DEFAULT_CAPS for a in ("--cap-add", cap)]
        namespaces = ["--unshare-pid", "--as-pid-1", "--unshare-ipc", "--unshare-uts", "--hostname", self.hostname] \
            if pid1 else []
        # The environment goes to the process as its environment (Popen env), not on the command line.
        return [shutil.which("nsenter"), f"--net=/run/netns/{self.namespace}", "--", shutil.which("bwrap"),
                *self._mounts(), *namespaces,
                "--die-with-parent", *extra, *caps, "--chdir", self.image.workdir, "--", *command]

    # ---- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "Container":
        """docker start: PID 1 runs ENTRYPOINT + CMD; its output goes to the container log."""
        assert self._proc is None, f"{self.config.alias} already started"
        info_read, info_write = os.pipe()
        argv = self._sandbox(self.argv(), None, pid1=True, extra=["--info-fd", str(info_write)])
        self._proc = subprocess.Popen(argv, env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, pass_fds=(info_write,))
        os.close(info_write)
        with os.fdopen(info_read) as info:
            found = re.search(r'"child-pid":\s*(\d+)', info.read())
        self._pid1 = int(found.group(1)) if found else None
        self._log = open(self.log_path, "ab")
        self._readers = [threading.Thread(target=self._read_output, args=(pipe, name), daemon=True)
                         for pipe, name in ((self._proc.stdout, "stdout"), (self._proc.stderr, "stderr"))]
        for reader in self._readers:
            reader.start()
        return self

    def _read_output(self, pipe, stream: str) -> None:
        for raw in iter(pipe.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append((time.monotonic(), stream, line))
            self._log.write(f"{stream}: {line}\n".encode())
            self._log.flush()

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(5)

    @property
    def pid(self) -> int | None:
        """PID 1 of the container, as this machine numbers it."""
        return self._pid1

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def wait(self, timeout: float) -> int:
        code = self._proc.wait(timeout)
        self._join_readers()
        return code

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.running and self._pid1:
            os.kill(self._pid1, sig)

    def stop(self, timeout: float | None = None) -> int | None:
        """docker stop: the stop signal to PID 1, SIGKILL after the timeout. Returns the exit code."""
        if self._proc is None:
            return None
        if self.running:
            name = self.config.stop_signal or self.image.stop_signal
            self.kill(getattr(signal, name))
            try:
                self._proc.wait(self.config.stop_timeout_s if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self._proc.wait(10)
        self._join_readers()
        return self._proc.returncode

    def exec(self, argv: Sequence[str], user: str | None = None, env: Mapping[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess:
        """docker exec: the container's env (plus `env`), user and working directory."""
        return subprocess.run(self._sandbox(argv, user, pid1=False), env={**self.env(), **(env or {})},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    def healthcheck(self, test: Sequence[str], timeout: float = 30) -> bool:
        """One run of a Docker HEALTHCHECK test (["CMD", ...] or ["CMD-SHELL", "..."])."""
        kind, *rest = test
        argv = rest if kind == "CMD" else ["/bin/sh", "-c", rest[0]]
        assert kind in ("CMD", "CMD-SHELL"), test
        return self.exec(argv, timeout=timeout).returncode == 0

    def idle_twin(self, work_dir: Path) -> "Container":
        """A started container of the same image and config whose PID 1 only sleeps: where a
        healthcheck must fail because nothing serves."""
        twin = Container(self.network, dataclasses.replace(self.config, alias=f"{self.config.alias}-idle",
                                                           entrypoint=["sleep", "infinity"], command=[],
                                                           volumes={}), work_dir)
        return twin.start()

    def logs(self, stream: str | None = None) -> str:
        """docker logs: both streams interleaved, or only "stdout" or "stderr"."""
        return "\n".join(line for _, name, line in list(self.lines) if stream in (None, name))

    def path(self, container_path: str) -> Path:
        """Where a path of the container's filesystem is on this machine (volumes and binds first)."""
        for mount, volume in self.config.volumes.items():
            if container_path == mount or container_path.startswith(mount.rstrip("/") + "/"):
                return volume.path / container_path[len(mount):].lstrip("/")
        for mount, host in self.config.binds.items():
            if container_path == mount or container_path.startswith(mount.rstrip("/") + "/"):
                return Path(host) / container_path[len(mount):].lstrip("/")
        return self.rootfs / container_path.lstrip("/")

    def remove(self) -> None:
        """docker rm -f: stop (SIGKILL), leave the network, drop the writable layer."""
        if self._proc is not None and self.running:
            self.kill(signal.SIGKILL)
            self._proc.wait(10)
        if self._proc is not None:
            self._join_readers()
            self._log.close()
        self._proc = None
        self.network.detach(self.namespace)
        shutil.rmtree(self.work_dir, ignore_errors=True)


class StopWaiting(Exception):
    """Raised by a wait_for check when waiting longer cannot help (the process died)."""


def wait_for(check, timeout: float, what, interval: float = 0.2):
    """Poll `check()` until truthy, at most `timeout` seconds; the last error in the message.
    Any exception but StopWaiting means "not yet". `what` may be a callable, for a message built
    when the time is up."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
        except StopWaiting:
            raise
        except Exception as exc:   # noqa: BLE001 - reported on timeout
            last = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what() if callable(what) else what}: not reached within {timeout:.0f} s "
                               f"(last error: {last!r})")
        time.sleep(interval)
