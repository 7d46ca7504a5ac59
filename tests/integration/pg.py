"""A real PostgreSQL 15 set up the way the lab's container sets itself up.

LabPostgres runs the native binaries with exactly what components/render/postgres.py gives the
container: the same server flags, the same init scripts (run the way the official
docker-entrypoint.sh runs /docker-entrypoint-initdb.d), the same reapply script the container's
entrypoint wrapper runs on an existing data directory. Nothing here re-types a flag or a script.

Where it differs from the container, on purpose:
- it listens on 127.0.0.1:<free port> and keeps its Unix socket in a private directory, so
  several servers can run side by side;
- 127.0.0.1 requires scram passwords (initdb --auth-host=scram-sha-256). In the container
  127.0.0.1 is trusted, but every lab client comes from another container over the bridge
  network, which the image's appended `host all all all scram-sha-256` line covers. Tests connect
  over 127.0.0.1 in their place, so they must face the same password check.

Typical use (see conftest.py for the shared session fixture):
    pg = LabPostgres(tmp_dir, seed_customers=2000); pg.start()
    with pg.connect("datadog", "creditdb") as conn: ...
    pg.passwords["credit_app"] = "new"; pg.restart()    # what a `pulumi config set` does
    pg.destroy()
"""
from __future__ import annotations

import atexit
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from components import topology
from components.render import postgres as render
from tests.integration.tools import PG_BIN, binary

LOCALHOST = "127.0.0.1"
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60


class InitError(RuntimeError):
    """Initialization (or the reapply on start) failed; the message carries the script output."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def _as_postgres() -> list[str]:
    """Command prefix that runs as the OS user postgres (the server refuses root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _chown_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _libpq_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class LabPostgres:
    def __init__(self, base_dir: Path, port: int | None = None, seed_customers: int = 2000):
        self.port = port or free_port()
        self.seed_customers = seed_customers
        # role -> password for this run; env() hands them to the scripts like the container env.
        self.passwords: dict[str, str] = {role: secrets.token_urlsafe(18) for role in topology.PASSWORD_ENV}
        self.work_dir = self._make_work_dir(Path(base_dir))
        self.data_dir = self.work_dir / "data"
        self.socket_dir = self.work_dir / "run"
        self.initdb_dir = self.work_dir / "docker-entrypoint-initdb.d"
        self.bin_dir = self.work_dir / "bin"
        self.log_path = self.work_dir / "postgres.log"
        self._server: subprocess.Popen | None = None
        atexit.register(self.stop)   # a crashed test run must not leave a server behind
        self.script_seconds: dict[str, float] = {}   # init script -> seconds, last run (for bench/)

    # ---- public API -------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The container-like environment: one password variable per role, and the seed size."""
        env = {topology.PASSWORD_ENV[role]: pw for role, pw in self.passwords.items() if pw is not None}
        env[topology.SEED_CUSTOMERS_ENV] = str(self.seed_customers)
        return env

    def start(self) -> None:
        """Initialize an empty data directory (or reapply on an existing one), then serve on TCP."""
        self._upload_files()
        if (self.data_dir / "PG_VERSION").is_file():
            self._reapply()
        else:
            self._initialize()
        self._start_server()

    def stop(self) -> None:
        if self._server is None:
            return
        if self._server.poll() is None:
            self._run([binary("pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w",
                       "-t", str(STOP_TIMEOUT_S), "stop"], check=False)
            try:
                self._server.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait(timeout=10)
        self._server = None

    def restart(self) -> None:
        """Stop, then start again as a replaced container would (reapply with the current env)."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop and delete everything this server wrote."""
        self.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def dsn(self, role: str = topology.WORKLOAD_ROLE, dbname: str = topology.DATABASE) -> str:
        """libpq key=value DSN over TCP, with the role's current password."""
        return (f"host={LOCALHOST} port={self.port} dbname={_libpq_quote(dbname)} "
                f"user={_libpq_quote(role)} password={_libpq_quote(self.passwords[role])}")

    def connect(self, role: str = topology.WORKLOAD_ROLE, dbname: str = topology.DATABASE, **kw):
        return psycopg2.connect(self.dsn(role, dbname), **kw)

    def run_init_scripts(self) -> None:
        """Run every init script again, as the entrypoint would, against the running server."""
        self._process_init_files()

    def healthcheck(self) -> bool:
        """Run the container's healthcheck command here (PGHOST/PGPORT point at this server)."""
        kind, command = render.healthcheck_command()
        assert kind == "CMD-SHELL", kind
        return self._run(["sh", "-c", command], check=False, capture_output=True).returncode == 0

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ---- setup, as docker-entrypoint.sh does it ---------------------------------------------
    def _make_work_dir(self, base_dir: Path) -> Path:
        """A directory the postgres OS user owns; under base_dir when postgres can reach it."""
        base_dir.mkdir(parents=True, exist_ok=True)
        reachable = subprocess.run([*_as_postgres(), "test", "-x", str(base_dir)]).returncode == 0
        if reachable:
            work_dir = base_dir / "lab-postgres"
            work_dir.mkdir(exist_ok=True)
        else:  # e.g. pytest's tmp_path under a root-only /tmp/pytest-of-root
            work_dir = Path(tempfile.mkdtemp(prefix="credit-lab-pg-"))
            (base_dir / "lab-postgres.location").write_text(str(work_dir) + "\n")
        _chown_postgres(work_dir)
        return work_dir

    def _upload_files(self) -> None:
        """Write the container's uploads (init scripts, helper scripts) like a new container gets them."""
        for directory in (self.initdb_dir, self.bin_dir):
            shutil.rmtree(directory, ignore_errors=True)  # a new container: only today's files
        for directory in (self.initdb_dir, self.bin_dir, self.socket_dir):
            directory.mkdir(exist_ok=True)
            _chown_postgres(directory)
        for path, content, executable in render.container_uploads():
            if path.startswith(render.INITDB_DIR + "/"):
                target = self.initdb_dir / path[len(render.INITDB_DIR) + 1:]
                target.parent.mkdir(exist_ok=True)
                _chown_postgres(target.parent)
            else:
                target = self.bin_dir / path.rsplit("/", 1)[1]
            target.write_text(content)
            target.chmod(0o755 if executable else 0o644)

    def _process_env(self) -> dict[str, str]:
        """Environment for server-side processes: the container env plus where things are here."""
        env = {key: os.environ[key] for key in ("LANG", "TZ") if key in os.environ}
        env.update(self.env())
        env.update({
            "PATH": f"{PG_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PGDATA": str(self.data_dir),
            "PGHOST": str(self.socket_dir),     # the container has no PGHOST: default socket dir
            "PGPORT": str(self.port),
            "POSTGRES_USER": topology.SUPERUSER,
            "LC_ALL": "C.UTF-8",                # the image initializes a UTF8 cluster
        })
        return env

    def _run(self, cmd, check=True, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*_as_postgres(), *map(str, cmd)], env=self._process_env(),
                              check=check, **kw)

    def _log_handle(self):
        handle = open(self.log_path, "a")
        _chown_postgres(self.log_path)
        return handle

    def _temp_server_options(self) -> str:
        """pg_ctl -o string: the lab flags, socket only (like docker_temp_server_start)."""
        args = [*render.server_args(), "-c", "listen_addresses=", "-p", str(self.port),
                "-c", f"unix_socket_directories={self.socket_dir}"]
        return shlex.join(args)

    def _initialize(self) -> None:
        superuser_password = self.passwords.get(topology.SUPERUSER)
        if not superuser_password:  # docker_verify_minimum_env
            raise InitError("Database is uninitialized and superuser password is not specified "
                            f"({topology.PASSWORD_ENV[topology.SUPERUSER]})")
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        _chown_postgres(self.data_dir)
        # docker_init_database_dir: the password reaches initdb through a pipe the postgres user
        # opens (bash process substitution, as the entrypoint does), never through a file.
        initdb = shlex.join([str(binary("initdb")), "-D", str(self.data_dir),
                             f"--username={topology.SUPERUSER}", "--auth-local=trust",
                             "--auth-host=scram-sha-256", "--encoding=UTF8"])
        password_env = topology.PASSWORD_ENV[topology.SUPERUSER]
        result = self._run(["bash", "-c", f'{initdb} --pwfile=<(printf "%s\\n" "${password_env}")'],
                           check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise InitError(f"initdb failed:\n{result.stdout}{result.stderr}")
        # pg_setup_hba_conf
        with open(self.data_dir / "pg_hba.conf", "a") as hba:
            hba.write("\nhost all all all scram-sha-256\n")
        with self._log_handle() as log:
            self._run([binary("pg_ctl"), "-D", self.data_dir, "-o", self._temp_server_options(),
                       "-w", "-t", str(READY_TIMEOUT_S), "-l", self.log_path, "start"],
                      stdout=log, stderr=subprocess.STDOUT)
        try:
            self._process_init_files()
        finally:
            self._run([binary("pg_ctl"), "-D", self.data_dir, "-m", "fast", "-w", "stop"],
                      check=False, capture_output=True)

    def _process_init_files(self) -> None:
        """docker_process_init_files /docker-entrypoint-initdb.d/*, in name order."""
        for script in sorted(self.initdb_dir.iterdir(), key=lambda p: p.name):
            if script.name.endswith(".sql"):
                cmd = [binary("psql"), "-v", "ON_ERROR_STOP=1", "--username", topology.SUPERUSER,
                       "--no-password", "--no-psqlrc", "-f", script]
            elif script.name.endswith(".sh") and os.access(script, os.X_OK):
                cmd = [script]
            elif script.name.endswith(".sh"):
                raise InitError(f"{script.name}: sourced .sh scripts are not emulated here")
            else:
                continue  # the entrypoint prints "ignoring" and moves on
            started = time.monotonic()
            result = self._run(cmd, check=False, capture_output=True, text=True)
            self.script_seconds[script.name] = time.monotonic() - started
            with self._log_handle() as log:
                log.write(f"--- init: {script.name} (exit {result.returncode})\n{result.stdout}{result.stderr}")
            if result.returncode != 0:
                raise InitError(f"init script {script.name} failed (exit {result.returncode}):\n"
                                f"{result.stderr.strip()}")

    def _reapply(self) -> None:
        """What the container's entrypoint wrapper does on an existing data directory."""
        reapply = self.bin_dir / render.REAPPLY_PATH.rsplit("/", 1)[1]
        env_extra = ["env", f"CREDIT_LAB_INITDB_DIR={self.initdb_dir}"]
        start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self._log_handle() as log:
            result = self._run([*env_extra, reapply, *render.container_command(),
                                "-c", f"unix_socket_directories={self.socket_dir}"],
                               check=False, stdout=log, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            output = self.log_text()[start_offset:]
            raise InitError(f"reapply on start failed (exit {result.returncode}):\n{output.strip()}")

    def _start_server(self) -> None:
        cmd = [binary("postgres"), "-D", self.data_dir, *render.server_args(),
               "-c", f"listen_addresses={LOCALHOST}", "-p", str(self.port),
               "-c", f"unix_socket_directories={self.socket_dir}"]
        log = self._log_handle()
        try:
            self._server = subprocess.Popen([*_as_postgres(), *map(str, cmd)], env=self._process_env(),
                                            stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                self._server = None
                raise InitError(f"postgres exited at start:\n{self.log_text()[-3000:]}")
            ready = subprocess.run([binary("pg_isready"), "--quiet", "-h", LOCALHOST, "-p", str(self.port)])
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        raise InitError(f"postgres not ready after {READY_TIMEOUT_S}s:\n{self.log_text()[-3000:]}")
