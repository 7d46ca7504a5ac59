"""What each image of the lab is, as far as running it matters: user, ENV, ENTRYPOINT, CMD,
WORKDIR, STOPSIGNAL, its users and groups, and the directories and files it ships.

Each model cites the Dockerfile it is read from (tests/CONTRACTS.md has the table). Where a binary
of this machine stands in for the image's, the model says so; that is the only liberty taken.
"""
from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from components.render import postgres as postgres_render
from tests.integration.tools import PG_BIN, binary, workload_venv

REPO = Path(__file__).resolve().parents[2]
# The stand-in entrypoint is the one the postgres stand-in image is built with (one copy).
POSTGRES_ENTRYPOINT = REPO / "tests" / "images" / "postgres" / "docker-entrypoint.sh"
DOCKER_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ImageModel:
    name: str
    """The image reference the model is read from."""
    user: str
    """USER: a name from `passwd` or a number."""
    passwd: str
    group: str
    entrypoint: tuple = ()
    cmd: tuple = ()
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str = "/"
    stop_signal: str = "SIGTERM"
    dirs: Mapping[str, tuple] = field(default_factory=dict)
    """Directories the image ships, path -> (mode, uid, gid); they replace this machine's."""
    files: Mapping[str, tuple] = field(default_factory=dict)
    """Files the image ships, path -> (text, mode, uid, gid)."""
    host_paths: Mapping[str, Path] = field(default_factory=dict)
    """Container path -> this machine's path standing in for it (read-only)."""
    healthcheck: tuple = ()
    """The image's own HEALTHCHECK test, if any."""

    def users(self) -> dict[str, tuple[int, int, str]]:
        """name -> (uid, gid, home) from the image's /etc/passwd."""
        found = {}
        for line in self.passwd.splitlines():
            name, _, uid, gid, _, home, _ = line.split(":")
            found[name] = (int(uid), int(gid), home)
        return found

    def uid_gid(self, user: str) -> tuple[int, int]:
        """Docker's USER resolution: a name from passwd, or a uid (its passwd gid, else 0)."""
        users = self.users()
        if user in users:
            return users[user][:2]
        by_uid = {uid: gid for uid, gid, _ in users.values()}
        return int(user), by_uid.get(int(user), 0)

    def home_of(self, user: str) -> str:
        users = self.users()
        name = user if user in users else next((n for n, v in users.items() if str(v[0]) == user), None)
        return users[name][2] if name else "/"

    def run_as(self, user: str) -> list[str]:
        """Command prefix that becomes `user` (none for root): setpriv, like runc's setuid/setgid,
        with the user's groups from the image's /etc/group."""
        uid, gid = self.uid_gid(user)
        if uid == 0:
            return []
        named = user in self.users() or any(v[0] == uid for v in self.users().values())
        groups = ["--init-groups"] if named else ["--clear-groups"]
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", *groups, "--"]

    def lay_out(self, rootfs: Path) -> None:
        """The image's own directories and files under `rootfs`, with their owners and modes."""
        rootfs.mkdir(parents=True, exist_ok=True)
        everything = {**self.dirs, "/etc": (0o755, 0, 0)}
        for path, (mode, uid, gid) in sorted(everything.items()):
            target = rootfs / path.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            os.chown(target, uid, gid)
            os.chmod(target, mode)
        files = {**self.files, "/etc/passwd": (self.passwd, 0o644, 0, 0), "/etc/group": (self.group, 0o644, 0, 0)}
        for path, (text, mode, uid, gid) in sorted(files.items()):
            target = rootfs / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            os.chown(target, uid, gid)
            os.chmod(target, mode)


BUSYBOX_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
BUSYBOX_GROUP = "root:x:0:\nnobody:x:65534:\n"


def postgres() -> ImageModel:
    """postgres:15-alpine: docker-library/postgres `15/alpine3.22/Dockerfile` at 6edb0a8.
    Stand-ins: Debian's PostgreSQL 15 (on PATH, where the image has /usr/local/bin), the
    entrypoint stand-in (tests/images/postgres/docker-entrypoint.sh), Debian's gosu (/usr/sbin,
    where the image has /usr/local/bin/gosu), LANG C.UTF-8 (the image's en_US.utf8 is musl's)."""
    sample = (Path("/usr/share/postgresql") / PG_BIN.parent.name / "postgresql.conf.sample")
    # Dockerfile line 191: sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" ...sample
    edited = re.sub(r"(?m)^#?(listen_addresses)\s*=\s*\S+.*$", r"\1 = '*'", sample.read_text())
    return ImageModel(
        name="postgres:15-alpine",
        user="root",                                                       # no USER line
        passwd="root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70::/var/lib/postgresql:/bin/sh\n"
               "nobody:x:65534:65534:nobody:/:/sbin/nologin\n",               # lines 12-13: uid/gid 70
        group="root:x:0:root\npostgres:x:70:\nnobody:x:65534:\n",
        entrypoint=("docker-entrypoint.sh",), cmd=("postgres",),            # lines 203, 230
        env={"LANG": "C.UTF-8", "PG_MAJOR": PG_BIN.parent.name,             # lines 51, 55
             "PGDATA": postgres_render.DATA_DIR,                            # line 196
             "PATH": f"{PG_BIN}:{DOCKER_DEFAULT_PATH}"},
        stop_signal="SIGINT",                                               # line 218
        dirs={"/usr/local": (0o755, 0, 0), "/usr/local/bin": (0o755, 0, 0),
              "/var/lib/postgresql": (0o1777, 70, 70),                      # line 16
              "/run/postgresql": (0o3777, 70, 70),                          # line 194 (/var/run -> /run)
              postgres_render.DATA_DIR: (0o1777, 70, 70),                   # lines 197-198
              postgres_render.INITDB_DIR: (0o755, 0, 0),                    # line 53
              "/tmp": (0o1777, 0, 0)},
        files={f"/usr/local/bin/{postgres_render.OFFICIAL_ENTRYPOINT}":       # line 201
               (POSTGRES_ENTRYPOINT.read_text(), 0o755, 0, 0),
               str(sample): (edited, 0o644, 0, 0)},
    )


def exporter() -> ImageModel:
    """quay.io/prometheuscommunity/postgres-exporter:v0.17.1: prometheus-community/postgres_exporter
    `Dockerfile` at v0.17.1 (busybox base, USER nobody, ENTRYPOINT /bin/postgres_exporter).
    Stand-in: Debian's prometheus-postgres-exporter of the same version for /bin/postgres_exporter."""
    return ImageModel(
        name="quay.io/prometheuscommunity/postgres-exporter:v0.17.1", user="nobody",
        passwd=BUSYBOX_PASSWD, group=BUSYBOX_GROUP,
        entrypoint=(str(binary("prometheus-postgres-exporter")),),
        dirs={"/tmp": (0o1777, 0, 0)})


def prometheus() -> ImageModel:
    """prom/prometheus:v2.53.3: prometheus/prometheus `Dockerfile` at v2.53.3 (lines 8-28:
    /etc/prometheus and /prometheus owned by nobody, WORKDIR /prometheus, USER nobody).
    Stand-in: Debian's prometheus of the same version for /bin/prometheus."""
    return ImageModel(
        name="prom/prometheus:v2.53.3", user="nobody", passwd=BUSYBOX_PASSWD, group=BUSYBOX_GROUP,
        entrypoint=(str(binary("prometheus")),),
        cmd=("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"),
        workdir="/prometheus",
        dirs={"/etc/prometheus": (0o755, 65534, 65534), "/prometheus": (0o755, 65534, 65534),
              "/tmp": (0o1777, 0, 0)},
        files={"/etc/prometheus/prometheus.yml": ("# the image's example config\n", 0o644, 65534, 65534)})


def grafana() -> ImageModel:
    """grafana/grafana:12 (Alpine): user 472, group 0; provisioning under /etc/grafana. Not run
    here (no Grafana binary): the model is used to read its uploads as its user."""
    return ImageModel(
        name="grafana/grafana:12.2.1", user="472",
        passwd="root:x:0:0:root:/root:/bin/sh\ngrafana:x:472:0::/home/grafana:/sbin/nologin\n",
        group="root:x:0:root\n",
        dirs={"/etc/grafana": (0o755, 472, 0), "/etc/grafana/provisioning": (0o755, 472, 0),
              "/var/lib/grafana": (0o755, 472, 0), "/tmp": (0o1777, 0, 0)})


# ---- the workload image, read from its own Dockerfile --------------------------------------------
WORKLOAD_DOCKERFILE = REPO / "workload" / "Dockerfile"
WORKLOAD_UID = 10001
WORKLOAD_GID = 999     # `useradd --system` gives the new group the first free system gid (Debian: 999)


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"(?m)^\s*(\w+)\s+(.*)$", joined)]


def workload() -> ImageModel:
    """The workload image as workload/Dockerfile builds it: ENV, WORKDIR, COPY (root-owned, the
    build context's modes), USER, STOPSIGNAL, HEALTHCHECK, CMD. Stand-in for the image's
    /usr/local/bin/python: a virtualenv with only workload/requirements.txt installed."""
    env, workdir, user, stop, cmd, health = {}, "/", "root", "SIGTERM", (), ()
    files: dict[str, tuple] = {}
    dirs: dict[str, tuple] = {"/tmp": (0o1777, 0, 0)}
    context = WORKLOAD_DOCKERFILE.parent
    for instruction, args in _dockerfile_instructions(WORKLOAD_DOCKERFILE.read_text()):
        if instruction == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(args)))
        elif instruction == "WORKDIR":
            workdir = args
            dirs[workdir] = (0o755, 0, 0)
        elif instruction == "COPY":
            source, target = shlex.split(args)
            base = posixpath.normpath(target if target.startswith("/") else f"{workdir}/{target}")
            src = context / source
            if src.is_file():
                inside = f"{base}/{src.name}" if target.endswith("/") else base
                files[inside] = (src.read_text(), src.stat().st_mode & 0o777, 0, 0)
                continue
            dirs[base] = (0o755, 0, 0)
            for path in sorted(src.rglob("*")):
                if _dockerignored(path.relative_to(context)):
                    continue
                inside = f"{base}/{path.relative_to(src).as_posix()}"
                if path.is_dir():
                    dirs[inside] = (0o755, 0, 0)
                else:
                    files[inside] = (path.read_text(), path.stat().st_mode & 0o777, 0, 0)
        elif instruction == "USER":
            user = args
        elif instruction == "STOPSIGNAL":
            stop = args
        elif instruction == "CMD":
            cmd = tuple(_json_list(args))
        elif instruction == "HEALTHCHECK":
            health = ("CMD", *_json_list(args.split("CMD", 1)[1]))
        elif instruction not in ("FROM", "RUN"):
            raise ValueError(f"workload/Dockerfile: {instruction} is not modelled in tests/engine/images.py")
    # Stand-in for the image's Python: a virtualenv with only workload/requirements.txt installed
    # (`pip install -r requirements.txt`, as the Dockerfile runs it), over this machine's Python.
    venv = workload_venv()
    python_home = Path(re.search(r"(?m)^home\s*=\s*(.+)$", (venv / "pyvenv.cfg").read_text()).group(1).strip()).parent
    env["PATH"] = f"{venv / 'bin'}:{python_home / 'bin'}:{DOCKER_DEFAULT_PATH}"
    host_paths = {str(python_home): python_home, str(venv): venv}
    return ImageModel(
        name="credit-lab workload (workload/Dockerfile)", user=user,
        passwd=f"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
               f"credit:x:{WORKLOAD_UID}:{WORKLOAD_GID}::/home/credit:/usr/sbin/nologin\n",
        group=f"root:x:0:\nnogroup:x:65534:\ncredit:x:{WORKLOAD_GID}:\n",
        cmd=cmd, env=env, workdir=workdir, stop_signal=stop, dirs=dirs, files=files,
        host_paths=host_paths, healthcheck=health)


def _json_list(text: str) -> list[str]:
    return json.loads(text.strip())


def _dockerignored(relative: Path) -> bool:
    """workload/.dockerignore's patterns (Go filepath.Match on the path, or on any parent)."""
    patterns = [line.strip() for line in (WORKLOAD_DOCKERFILE.parent / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    parts = relative.parts
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatchcase(prefix, pattern.rstrip("/")) for pattern in patterns for prefix in prefixes)
