"""payments: money received against accounts. Row locks on the account, double entry.

Each payment locks its account row (SELECT ... FOR UPDATE), records the payment under its
idempotency key, books it (cash debit, receivable credit), lowers the balance by the same
amount and settles the payment, in one transaction. Under lock-contention every payment and
fee goes to a couple of hot accounts and holds the lock through a slow "fraud check", so the
others queue: lock waits in pg_locks and pg_stat_activity, log_lock_waits lines in the log.
"""
from . import BaseService, Operation, new_key, ledger

METHODS = ("ach", "card", "wire", "cash")
HOT_ACCOUNTS = 3
HOT_THREADS = 6
HOT_UTILIZATION = 0.4        # share of the time each hot account's row lock is held: waits, not a stall


def hot_hold_seconds(settings) -> float:
    """How long a hot-account transaction holds its lock under lock-contention.

    Scaled to the rate so that each hot row is locked ~40% of the time: others queue behind it
    often (lock waits), yet the payments still keep up with their target rate.
    """
    rate = settings.service_rate("payments") if "payments" in settings.services else None
    if rate is None:
        return 0.02
    return max(0.005, min(0.25, HOT_UTILIZATION * HOT_ACCOUNTS / rate))


def _lock_account(cur, start_id, hot_ids):
    if hot_ids:
        cur.execute("SELECT id, balance FROM credit_accounts WHERE id = %s FOR UPDATE", (hot_ids[start_id % len(hot_ids)],))
    else:
        cur.execute("SELECT id, balance FROM credit_accounts WHERE id >= %s AND status IN ('active', 'delinquent') "
                    "AND balance > 0 ORDER BY id LIMIT 1 FOR UPDATE", (start_id,))
    return cur.fetchone()


def post_payment(cur, start_id, amount, method, key, hot_ids, hold):
    account = _lock_account(cur, start_id, hot_ids)
    if account is None:
        return {"skipped": "no_account"}
    account_id, balance = account
    if hold:
        cur.execute("SELECT pg_sleep(%s)", (hold,))          # the slow fraud check, lock held
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


class Service(BaseService):
    key = "payments"

    def __init__(self, settings):
        super().__init__(settings)
        self.contention = settings.scenario == "lock-contention"
        self.max_account = 1
        self.hot_ids = ()
        self.hold = hot_hold_seconds(settings) if self.contention else 0

    def prepare(self, cur):
        cur.execute("SELECT coalesce(max(id), 1) FROM credit_accounts")
        self.max_account = cur.fetchone()[0]
        if self.contention:
            self.hot_ids = hot_accounts(cur)

    def thread_count(self, base):
        return max(base, HOT_THREADS) if self.contention else base

    def next_operation(self, rng):
        if rng.random() < 0.75 or self.contention:
            amount = round(rng.uniform(20, 800), 2)
            method = rng.choice(METHODS)
            return Operation("post_payment", post_payment,
                             (rng.randint(1, self.max_account), amount, method, new_key(), self.hot_ids,
                              self.hold),
                             {"credit.method": method, "credit.hot": bool(self.hot_ids)})
        return Operation("account_overview", account_overview, (rng.randint(1, self.max_account),))


def hot_accounts(cur, n=HOT_ACCOUNTS):
    """The accounts lock-contention piles onto: the lowest-numbered open ones (same in every service)."""
    cur.execute("SELECT id FROM credit_accounts WHERE status IN ('active', 'delinquent') ORDER BY id LIMIT %s", (n,))
    return tuple(r[0] for r in cur.fetchall())
