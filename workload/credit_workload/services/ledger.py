"""Double entry, in one place: every money movement is one journal entry of two balanced lines.

The receivable line carries the credit account; the other side is a general-ledger account
(cash, income, losses). The entry's idempotency key makes a retried booking a no-op.
"""
RECEIVABLE = "loans_receivable"


def book(cur, account_id, kind, description, key, debit, credit, amount, *, skip_existing=False):
    """Debit `debit` and credit `credit` by `amount` under journal entry `kind`; return its id.

    With skip_existing, a key already booked is not an error: returns None (the caller reports a
    replay). Without it, the caller has already checked its key, and a duplicate raises.
    """
    conflict = " ON CONFLICT (idempotency_key) DO NOTHING" if skip_existing else ""
    # One statement for the entry and its two lines (one round trip, one span): the lines take the
    # entry's id from the CTE, and none are inserted when the key was already booked.
    cur.execute("WITH entry AS (INSERT INTO journal_entries (credit_account_id, kind, description, idempotency_key) "
                f"VALUES (%s, %s, %s, %s){conflict} RETURNING id), "
                "lines AS (INSERT INTO ledger_lines (journal_entry_id, gl_code, credit_account_id, amount) "
                "SELECT entry.id, v.gl_code, v.account_id, v.amount FROM entry, "
                "(VALUES (%s, %s::bigint, %s::numeric), (%s, %s::bigint, %s::numeric)) AS v (gl_code, account_id, amount)) "
                "SELECT id FROM entry",
                (account_id, kind, description, key,
                 debit, account_id if debit == RECEIVABLE else None, amount,
                 credit, account_id if credit == RECEIVABLE else None, -amount))
    row = cur.fetchone()
    return None if row is None else row[0]
