"""Exponential backoff: reconnects (db.py) and service restarts (supervisor.py) wait the same way."""


def delay(attempt: int, first: float, cap: float) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): first, 2 x first, 4 x first, ...
    never more than `cap`."""
    return min(first * 2 ** (attempt - 1), cap)
