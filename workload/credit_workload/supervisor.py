"""The container's main process: one child process per service, restarted if one ever exits.

SIGTERM/SIGINT are passed to the children, which finish in-flight work and exit 0; a child that
is still running after CHILD_STOP_TIMEOUT is killed, so the container stops within Docker's 10 s.
"""
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from . import backoff
from .settings import Settings

log = logging.getLogger("credit_workload.supervisor")
CHILD_STOP_TIMEOUT = 7.0
RESTART_BACKOFF_FIRST, RESTART_BACKOFF_MAX = 2.0, 30.0


class Supervisor:
    def __init__(self, settings: Settings, env=None):
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.stop = threading.Event()
        self.children = {}
        self.restarts = {key: 0 for key in settings.services}

    def _spawn(self, key: str) -> subprocess.Popen:
        env = dict(self.env)
        env.pop("WORKLOAD_DURATION", None)   # the supervisor owns the run's length
        # Children get the connection exactly as validated here (defaults filled); the password
        # stays in the environment.
        s = self.settings
        env.update(PGHOST=s.host, PGPORT=str(s.port), PGDATABASE=s.dbname, PGUSER=s.user)
        if s.password is not None:
            env["PGPASSWORD"] = s.password
        return subprocess.Popen([sys.executable, "-m", "credit_workload.service", key], env=env,
                                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        log.info("starting %s", self.settings)
        due = {}
        for key in self.settings.services:
            self.children[key] = self._spawn(key)
        deadline = None if self.settings.duration is None else time.monotonic() + self.settings.duration
        while not self.stop.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                break
            for key, child in list(self.children.items()):
                if child is None or child.poll() is None:
                    if child is None and time.monotonic() >= due[key]:
                        self.children[key] = self._spawn(key)
                    continue
                # A service process died: restart it with a growing delay, never give up.
                self.restarts[key] += 1
                delay = backoff.delay(self.restarts[key], RESTART_BACKOFF_FIRST, RESTART_BACKOFF_MAX)
                log.error("service %s exited with %s; restarting in %.0fs", key, child.returncode, delay)
                self.children[key], due[key] = None, time.monotonic() + delay
        return self.shutdown()

    def shutdown(self) -> int:
        running = [c for c in self.children.values() if c is not None and c.poll() is None]
        for child in running:
            child.send_signal(signal.SIGTERM)
        end = time.monotonic() + CHILD_STOP_TIMEOUT
        for child in running:
            try:
                child.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("service process %d did not stop in time: killed", child.pid)
                child.kill()
                child.wait()
        return 0
