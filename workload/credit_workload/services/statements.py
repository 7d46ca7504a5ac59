"""statements: monthly statements and reporting. Range scans over journal, ledger and payments.

generate_statement runs the account's next billing cycle (the lab's billing clock runs ahead of
the calendar so there is always a next one): interest by double entry, the statement row, both
in one transaction. Reports are range scans on (account, posted_at) and period_end indexes.
Under idle-in-transaction, reviewer sessions open a transaction, read, then sit idle in it for
IDLE_SECONDS before committing, over and over, staggered so that one of them is always more than
IDLE_SECONDS / IDLE_SESSIONS into its idle transaction: 45 s, past the 30 s of
PostgresIdleInTransaction (configs/prometheus/rules) from then on, whatever the rate.
"""
import random

from . import BaseService, Operation, already_applied, new_key, ledger

IDLE_SESSIONS = 2
# Three times the alert's 30 s, and well inside credit_app's idle_in_transaction_session_timeout
# (5 min, configs/postgres/initdb/10-roles.sql), the server's guard against a client that hangs.
IDLE_SECONDS = 90.0


def generate_statement(cur, start_id, key):
    if already_applied(cur, key):
        return {"idempotency_key": key, "replayed": True}
    # Only accounts that owe at least a cent of interest: the interest entry carries the key, which
    # is what makes a retried statement run find itself done (statements have no key column).
    cur.execute("SELECT id, balance, apr, opened_at::date FROM credit_accounts WHERE id >= %s "
                "AND status IN ('active', 'delinquent') AND balance * apr / 12 >= 0.01 "
                "ORDER BY id LIMIT 1 FOR UPDATE", (start_id,))
    account = cur.fetchone()
    if account is None:
        return {"skipped": "no_account"}
    account_id, balance, apr, opened = account
    cur.execute("SELECT max(period_end) FROM statements WHERE credit_account_id = %s", (account_id,))
    last_end = cur.fetchone()[0]
    cur.execute("SELECT coalesce(sum(amount), 0) FROM payments WHERE credit_account_id = %s "
                "AND status = 'settled' AND received_at >= now() - interval '30 days'", (account_id,))
    paid = cur.fetchone()[0]
    interest = max(0.01, round(float(balance) * float(apr) / 12, 2))
    # The interest entry always exists and carries the idempotency key.
    ledger.book(cur, account_id, "interest", "monthly interest", key,
                ledger.RECEIVABLE, "interest_income", interest)
    cur.execute("UPDATE credit_accounts SET balance = balance + %s WHERE id = %s", (interest, account_id))
    closing = float(balance) + interest
    cur.execute(
        "INSERT INTO statements (credit_account_id, period_start, period_end, opening_balance, interest_charged, "
        "payments_received, closing_balance, minimum_due, due_date) "
        "SELECT %(a)s, s, (s + interval '1 month' - interval '1 day')::date, %(open)s, %(int)s, %(paid)s, "
        "%(close)s, greatest(0, round(%(close)s * 0.03, 2)), (s + interval '1 month' + interval '24 days')::date "
        "FROM (SELECT coalesce(%(last)s::date + 1, date_trunc('month', %(opened)s::date)::date) AS s) p "
        "ON CONFLICT (credit_account_id, period_start) DO NOTHING RETURNING id, period_start",
        {"a": account_id, "open": balance, "int": interest, "paid": paid, "close": closing,
         "last": last_end, "opened": opened})
    row = cur.fetchone()
    return {"account_id": account_id, "statement_id": row[0] if row else None,
            "period_start": str(row[1]) if row else None, "interest": interest, "idempotency_key": key,
            "replayed": False}


def account_activity(cur, start_id):
    cur.execute("SELECT j.posted_at, j.kind, l.gl_code, l.amount FROM journal_entries j "
                "JOIN ledger_lines l ON l.journal_entry_id = j.id "
                "WHERE j.credit_account_id = (SELECT id FROM credit_accounts WHERE id >= %s ORDER BY id LIMIT 1) "
                "AND j.posted_at >= now() - interval '90 days' ORDER BY j.posted_at", (start_id,))
    return {"lines": len(cur.fetchall())}


def period_report(cur, days_back):
    cur.execute("SELECT period_end, count(*), sum(closing_balance), sum(minimum_due), sum(interest_charged) "
                "FROM statements WHERE period_end BETWEEN current_date - %s AND current_date - %s + 31 "
                "GROUP BY period_end ORDER BY period_end", (days_back, days_back))
    return {"days": len(cur.fetchall())}


def idle_review(cur, start_id, stop, seconds):
    """idle-in-transaction: read, then keep the transaction open doing nothing (a forgotten commit)."""
    account_activity(cur, start_id)
    stop.wait(seconds)
    return {"idle_seconds": seconds}


class Service(BaseService):
    key = "statements"

    def __init__(self, settings):
        super().__init__(settings)
        self.max_account = 1

    def prepare(self, cur):
        cur.execute("SELECT coalesce(max(id), 1) FROM credit_accounts")
        self.max_account = cur.fetchone()[0]

    def next_operation(self, rng):
        roll = rng.random()
        if roll < 0.5:
            return Operation("generate_statement", generate_statement, (rng.randint(1, self.max_account), new_key()))
        if roll < 0.8:
            return Operation("account_activity", account_activity, (rng.randint(1, self.max_account),), read_only=True)
        return Operation("period_report", period_report, (rng.randint(0, 400),), read_only=True)

    def background(self, runner):
        """idle-in-transaction: IDLE_SESSIONS reviewers, each starting IDLE_SECONDS / IDLE_SESSIONS
        after the one before."""
        if self.scenario != "idle-in-transaction":
            return []
        rng = random.Random()

        def reviewer(offset):
            if not runner.stop.wait(offset):
                runner.repeat(lambda: Operation("idle_review", idle_review,
                                                (rng.randint(1, self.max_account), runner.stop, IDLE_SECONDS)))
        return [lambda i=i: reviewer(i * IDLE_SECONDS / IDLE_SESSIONS) for i in range(IDLE_SESSIONS)]
