"""payments: money received against accounts. Row locks on the account, double entry.

Each payment locks its account row (SELECT ... FOR UPDATE), records the payment under its
idempotency key, books it (cash debit, receivable credit), lowers the balance by the same
amount and settles the payment, in one transaction.

Under lock-contention, besides the paced payments (which go on as usual), a fraud review locks
one hot account and holds it for HOT_HOLD_SECONDS, over and over, while HOT_QUEUE unpaced
payments to that account queue behind it: about HOT_QUEUE sessions wait on a row lock at any
moment, whatever the rate or the machine (pg_locks, wait_event_type Lock in pg_stat_activity and
DBM, log_lock_waits lines, PostgresLockWaits).
"""
from . import BaseService, Operation, new_key, ledger

METHODS = ("ach", "card", "wire", "cash")
# The review holds the hot row this long; each queued payment waits about as long, inside the
# sessions' lock_timeout (db.SESSION_OPTIONS, 5 s), so none gives up.
HOT_HOLD_SECONDS = 3.0
HOT_QUEUE = 3


def _lock_account(cur, start_id, hot_ids):
    if hot_ids:
        cur.execute("SELECT id, balance FROM credit_accounts WHERE id = %s FOR UPDATE", (hot_ids[start_id % len(hot_ids)],))
    else:
        cur.execute("SELECT id, balance FROM credit_accounts WHERE id >= %s AND status IN ('active', 'delinquent') "
                    "AND balance > 0 ORDER BY id LIMIT 1 FOR UPDATE", (start_id,))
    return cur.fetchone()


def post_payment(cur, start_id, amount, method, key, hot_ids=()):
    account = _lock_account(cur, start_id, hot_ids)
    if account is None:
        return {"skipped": "no_account"}
    account_id, balance = account
    if balance <= 0:
        return post_fee(cur, account_id, key)
    amount = min(amount, float(balance))
    cur.execute("INSERT INTO payments (credit_account_id, amount, method, idempotency_key) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (account_id, amount, method, key))
    row = cur.fetchone()
    if row is None:
        return {"account_id": account_id, "idempotency_key": key, "replayed": True}
    payment_id = row[0]
    entry_id = ledger.book(cur, account_id, "payment", f"payment {payment_id}", key,
                           "cash", ledger.RECEIVABLE, amount)
    cur.execute("UPDATE credit_accounts SET balance = balance - %s, "
                "days_past_due = CASE WHEN balance - %s <= 0 THEN 0 ELSE days_past_due END WHERE id = %s",
                (amount, amount, account_id))
    cur.execute("UPDATE payments SET status = 'settled', settled_at = now(), journal_entry_id = %s WHERE id = %s",
                (entry_id, payment_id))
    return {"account_id": account_id, "payment_id": payment_id, "journal_entry_id": entry_id,
            "amount": amount, "idempotency_key": key, "replayed": False}


def post_fee(cur, account_id, key, fee=25.0):
    """A late fee: receivable debit, fee income credit (keeps hot accounts from running dry)."""
    entry_id = ledger.book(cur, account_id, "fee", "late fee", key, ledger.RECEIVABLE, "fee_income", fee,
                           skip_existing=True)
    if entry_id is None:
        return {"account_id": account_id, "idempotency_key": key, "replayed": True}
    cur.execute("UPDATE credit_accounts SET balance = balance + %s WHERE id = %s", (fee, account_id))
    return {"account_id": account_id, "journal_entry_id": entry_id, "amount": fee, "kind": "fee",
            "idempotency_key": key, "replayed": False}


def account_overview(cur, start_id):
    cur.execute("SELECT id, balance, next_due_date, days_past_due, status FROM credit_accounts "
                "WHERE id >= %s ORDER BY id LIMIT 1", (start_id,))
    row = cur.fetchone()
    if row is None:
        return {"account_id": None}
    cur.execute("SELECT id, amount, method, status, received_at FROM payments WHERE credit_account_id = %s "
                "ORDER BY received_at DESC LIMIT 5", (row[0],))
    return {"account_id": row[0], "recent_payments": len(cur.fetchall())}


def review_hot_account(cur, account_id, stop, seconds):
    """lock-contention: a fraud review locks the account, reads its recent payments, then waits on
    the analyst with the transaction open: the classic blocker, idle in transaction holding a row
    lock (DBM shows it as the blocking session). The wait is client-side, so no statement of
    seconds lands in pg_stat_statements, and it ends at once when the service stops."""
    cur.execute("SELECT id, balance FROM credit_accounts WHERE id = %s FOR UPDATE", (account_id,))
    cur.execute("SELECT id, amount, method, received_at FROM payments WHERE credit_account_id = %s "
                "ORDER BY received_at DESC LIMIT 20", (account_id,))
    cur.fetchall()
    stop.wait(seconds)
    return {"account_id": account_id, "held_seconds": seconds}


class Service(BaseService):
    key = "payments"

    def __init__(self, settings):
        super().__init__(settings)
        self.contention = settings.scenario == "lock-contention"
        self.max_account = 1
        self.hot_ids = ()

    def prepare(self, cur):
        cur.execute("SELECT coalesce(max(id), 1) FROM credit_accounts")
        self.max_account = cur.fetchone()[0]
        if self.contention:
            self.hot_ids = hot_accounts(cur)

    def next_operation(self, rng):
        if rng.random() < 0.75:
            return self._payment(rng, rng.randint(1, self.max_account))
        return Operation("account_overview", account_overview, (rng.randint(1, self.max_account),), read_only=True)

    def _payment(self, rng, start_id, hot_ids=()):
        amount = round(rng.uniform(20, 800), 2)
        method = rng.choice(METHODS)
        return Operation("post_payment", post_payment, (start_id, amount, method, new_key(), hot_ids),
                         {"credit.method": method, "credit.hot": bool(hot_ids)})

    def background(self, runner):
        """lock-contention: the review holding the hot row, and the payments queued behind it."""
        if not self.contention:
            return []
        import random
        review = Operation("review_hot_account", review_hot_account, (self.hot_ids[0], runner.stop, HOT_HOLD_SECONDS))
        queued = [random.Random() for _ in range(HOT_QUEUE)]
        return [lambda: runner.repeat(lambda: review)] + [
            lambda rng=rng: runner.repeat(lambda: self._payment(rng, 0, self.hot_ids)) for rng in queued]


def hot_accounts(cur, n=1):
    """The account lock-contention piles onto: the lowest-numbered open one."""
    cur.execute("SELECT id FROM credit_accounts WHERE status IN ('active', 'delinquent') ORDER BY id LIMIT %s", (n,))
    return tuple(r[0] for r in cur.fetchall())
