"""collections: overdue sweeps and batch updates, then work on the cases.

The sweep marks up to a batch of overdue accounts delinquent in one UPDATE (rows taken with
FOR UPDATE SKIP LOCKED so it never queues behind payments) and opens at most one case per
account. Working a case may end in a charge-off, booked by double entry.
"""
from . import BaseService, Operation, already_applied, new_key, ledger

SWEEP_BATCH = 50
CHARGE_OFF_DPD = 120


def overdue_sweep(cur, batch):
    cur.execute(
        "UPDATE credit_accounts a SET days_past_due = current_date - a.next_due_date, status = 'delinquent' "
        "FROM (SELECT id FROM credit_accounts WHERE next_due_date < current_date AND status IN ('active', 'delinquent') "
        "AND balance > 0 ORDER BY next_due_date LIMIT %s FOR UPDATE SKIP LOCKED) due WHERE a.id = due.id "
        "RETURNING a.id", (batch,))
    updated = [r[0] for r in cur.fetchall()]
    # Only the rows this sweep already holds: waiting on other accounts' locks could deadlock with payments.
    cur.execute(
        "INSERT INTO collection_cases (credit_account_id, days_past_due, amount_overdue, next_action_at) "
        "SELECT id, days_past_due, balance, now() FROM credit_accounts WHERE id = ANY(%s) "
        "ON CONFLICT (credit_account_id) WHERE status IN ('open', 'promise_to_pay') DO NOTHING RETURNING id",
        (updated,))
    return {"accounts_marked": len(updated), "cases_opened": len(cur.fetchall())}


def work_case(cur, key, agent):
    if already_applied(cur, key):         # a retried charge-off that did commit
        return {"idempotency_key": key, "replayed": True}
    cur.execute("SELECT c.id, c.credit_account_id, a.balance, a.days_past_due FROM collection_cases c "
                "JOIN credit_accounts a ON a.id = c.credit_account_id "
                "WHERE c.status IN ('open', 'promise_to_pay') ORDER BY c.next_action_at LIMIT 1 "
                "FOR UPDATE OF c, a SKIP LOCKED")
    case = cur.fetchone()
    if case is None:
        return {"cases": "none"}
    case_id, account_id, balance, dpd = case
    if balance <= 0:
        cur.execute("UPDATE collection_cases SET status = 'resolved', closed_at = now(), assigned_agent = %s, "
                    "notes = 'paid in full' WHERE id = %s", (agent, case_id))
        cur.execute("UPDATE credit_accounts SET status = 'active', days_past_due = 0 WHERE id = %s "
                    "AND status = 'delinquent'", (account_id,))
        return {"case_id": case_id, "outcome": "resolved"}
    if dpd >= CHARGE_OFF_DPD:
        entry_id = ledger.book(cur, account_id, "charge_off", "charged off by collections", key,
                               "loan_losses", ledger.RECEIVABLE, balance)
        cur.execute("UPDATE credit_accounts SET balance = 0, status = 'charged_off', closed_at = now() "
                    "WHERE id = %s", (account_id,))
        cur.execute("UPDATE collection_cases SET status = 'charged_off', closed_at = now(), assigned_agent = %s "
                    "WHERE id = %s", (agent, case_id))
        return {"case_id": case_id, "outcome": "charged_off", "journal_entry_id": entry_id,
                "idempotency_key": key, "amount": float(balance)}
    cur.execute("UPDATE collection_cases SET status = 'promise_to_pay', assigned_agent = %s, "
                "next_action_at = now() + interval '3 days', notes = 'promise to pay' WHERE id = %s",
                (agent, case_id))
    return {"case_id": case_id, "outcome": "promise_to_pay"}


class Service(BaseService):
    key = "collections"

    def next_operation(self, rng):
        roll = rng.random()
        if roll < 0.3:
            return Operation("overdue_sweep", overdue_sweep, (SWEEP_BATCH,))
        return Operation("work_case", work_case, (new_key(), f"agent-{rng.randint(1, 12):02d}"))
