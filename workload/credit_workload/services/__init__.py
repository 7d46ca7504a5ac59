"""The five credit services: one module each, each with its own query shape (DESIGN.md)."""
import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Operation:
    """One business operation: fn(cursor, *args) runs inside one transaction.

    read_only: the operation only reads and needs no single snapshot, so it runs in autocommit:
    no BEGIN and COMMIT round trips and no commit span (each statement is its own transaction).
    Not for reads that must hold a transaction open (idle_review, review_hot_account)."""
    name: str
    run: Callable
    args: tuple = ()
    tags: dict = field(default_factory=dict)
    read_only: bool = False


def new_key() -> str:
    """A client-made idempotency key: made once per operation, reused by every retry of it."""
    return str(uuid.uuid4())


def already_applied(cur, key) -> bool:
    """True when an operation with this idempotency key already committed its journal entry.

    Checked first by every operation that may book money, so the retry of an operation whose
    COMMIT outcome was unknown finds it done instead of booking it again.
    """
    cur.execute("SELECT 1 FROM journal_entries WHERE idempotency_key = %s", (key,))
    return cur.fetchone() is not None


class BaseService:
    key = ""

    def __init__(self, settings):
        self.settings = settings
        self.scenario = settings.scenario
        self.storm = settings.scenario == "connection-storm"

    def prepare(self, cur) -> None:
        """Read what operations pick from (id ranges); runs once before the workers start."""

    def thread_count(self, base: int) -> int:
        return base

    def background(self, runner):
        """Extra loops a scenario runs besides the paced workers, as callables (none by default);
        most are runner.repeat(next_operation) on a session of their own."""
        return []

    def next_operation(self, rng) -> Operation:
        raise NotImplementedError


def load_service(key: str, settings) -> BaseService:
    module = importlib.import_module(f"{__name__}.{key}")
    return module.Service(settings)
