"""What the PostgreSQL container runs: server flags, init scripts, entrypoint wrapper, healthcheck.

Pure functions (no pulumi import): the Pulumi component and the integration tests both call them,
so the flags a test server gets are the flags the container gets.

Files come from configs/postgres/:
  server.conf   the server flags, postgresql.conf syntax, passed as `-c key=value` arguments
  initdb/*.sql  init scripts for the image's /docker-entrypoint-initdb.d (name order, superuser,
                once on an empty data directory); passwords come from the container env
  entrypoint.sh wrapper around the official docker-entrypoint.sh
  reapply.sh    re-runs the (idempotent) init scripts on every start of an existing data directory,
                which is how a password changed with `pulumi config set` reaches the database
"""
from __future__ import annotations

import re
from pathlib import Path

from components import topology
from components.render.upload import EXECUTABLE, Upload

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "postgres"
SERVER_CONF = CONFIG_DIR / "server.conf"
INITDB_SOURCE_DIR = CONFIG_DIR / "initdb"

# Paths inside the postgres:15-alpine image.
INITDB_DIR = "/docker-entrypoint-initdb.d"
DATA_DIR = "/var/lib/postgresql/data"
# The official image's variable for the data directory (its ENV PGDATA is DATA_DIR).
DATA_DIR_ENV = "PGDATA"
OFFICIAL_ENTRYPOINT = "docker-entrypoint.sh"
ENTRYPOINT_PATH = "/usr/local/bin/credit-lab-entrypoint.sh"
REAPPLY_PATH = "/usr/local/bin/credit-lab-reapply.sh"

# key = value, value bare or single-quoted ('' is a quote inside), optional trailing comment.
_SETTING = re.compile(
    r"^\s*(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*"
    r"(?:'(?P<quoted>(?:[^']|'')*)'|(?P<bare>[^\s#']+))\s*(?:#.*)?$")


def parse_conf(text: str, source: str = "server.conf") -> dict[str, str]:
    """Settings of a postgresql.conf-syntax text; one clear error for a bad or repeated line."""
    settings: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _SETTING.match(line)
        if not match:
            raise ValueError(f"{source}:{number}: not `key = value`: {line.strip()!r}")
        key = match["key"]
        if key in settings:
            raise ValueError(f"{source}:{number}: {key} is set twice")
        value = match["quoted"].replace("''", "'") if match["quoted"] is not None else match["bare"]
        settings[key] = value
    return settings


def server_settings() -> dict[str, str]:
    """The lab's server flags, from configs/postgres/server.conf."""
    return parse_conf(SERVER_CONF.read_text(), SERVER_CONF.name)


def server_args() -> list[str]:
    """The flags as `postgres` arguments: ["-c", "key=value", ...] (argv items, no shell quoting)."""
    args: list[str] = []
    for key, value in server_settings().items():
        args += ["-c", f"{key}={value}"]
    return args


def container_command() -> list[str]:
    """The container's CMD: the official entrypoint's `postgres` form plus the lab's flags."""
    return ["postgres", *server_args()]


def container_entrypoint() -> list[str]:
    """The container's ENTRYPOINT: the wrapper (reapply on existing data, then the official one)."""
    return [ENTRYPOINT_PATH]


def init_scripts() -> list[tuple[str, str]]:
    """(file name, content) of the init scripts, in the order the entrypoint runs them."""
    return [(path.name, path.read_text()) for path in sorted(INITDB_SOURCE_DIR.glob("*.sql"))]


def container_uploads() -> list[Upload]:
    """Every file the container needs. The scripts are 0755: the entrypoint runs as root but
    reapply.sh runs as the image's `postgres` user (uid 70), which a root-owned 0744 file denies."""
    uploads = [Upload(f"{INITDB_DIR}/{name}", content) for name, content in init_scripts()]
    # Files the scripts include (psql \ir), in a subfolder the entrypoint ignores.
    uploads += [Upload(f"{INITDB_DIR}/{path.relative_to(INITDB_SOURCE_DIR).as_posix()}", path.read_text())
                for path in sorted(INITDB_SOURCE_DIR.glob("*/*"))]
    uploads.append(Upload(ENTRYPOINT_PATH, (CONFIG_DIR / "entrypoint.sh").read_text(), EXECUTABLE))
    uploads.append(Upload(REAPPLY_PATH, (CONFIG_DIR / "reapply.sh").read_text(), EXECUTABLE))
    return uploads


def healthcheck_command() -> list[str]:
    """Docker healthcheck (CMD-SHELL form): healthy only once init is over and creditdb answers.

    pg_isready over TCP fails while init runs, because the entrypoint's (and reapply's) temporary
    server listens on the Unix socket only; the query then proves creditdb exists and the
    monitoring extension is in place. Host and port come from the libpq defaults inside the
    container (PGHOST unset: /var/run/postgresql; PGPORT unset: 5432).
    """
    probe = (
        f"pg_isready --quiet --host=127.0.0.1 --username={topology.SUPERUSER} --dbname={topology.DATABASE}"
        f" && psql --no-psqlrc --quiet --tuples-only --username={topology.SUPERUSER}"
        f" --dbname={topology.DATABASE}"
        " --command=\"SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'\" | grep -q 1")
    return ["CMD-SHELL", probe]
