"""scoring: decides submitted applications. Aggregates over the customer's history.

Takes the oldest submitted application (FOR UPDATE SKIP LOCKED, so scorers never wait on each
other), aggregates the customer's existing accounts and repayment history, decides, and on
approval opens the account and books the disbursement by double entry, all in one transaction.
The repayment-history aggregate goes through journal_entries' (account, posted_at) index; under
the slow-query scenario it filters ledger_lines on the unindexed credit_account_id instead
(GAP 1): a full scan of the ledger that auto_explain logs and DBM shows.
"""
import time

from . import BaseService, Operation, already_applied, new_key, ledger

HISTORY_INDEXED = (
    "SELECT date_trunc('month', l.posted_at) AS month, count(*), sum(l.amount) "
    "FROM journal_entries j JOIN ledger_lines l ON l.journal_entry_id = j.id "
    "WHERE j.credit_account_id = ANY(%s) AND j.posted_at > now() - interval '12 months' "
    "AND l.gl_code = 'loans_receivable' GROUP BY 1 ORDER BY 1")
HISTORY_UNINDEXED = (  # slow-query: the same question asked where no index helps (GAP 1)
    "SELECT date_trunc('month', l.posted_at) AS month, count(*), sum(l.amount) "
    "FROM ledger_lines l WHERE l.credit_account_id = ANY(%s) "
    "AND l.posted_at > now() - interval '12 months' GROUP BY 1 ORDER BY 1")
# slow-query: repayment totals of peer accounts, each summed over ledger_lines by the unindexed
# credit_account_id (GAP 1) - one sequential scan of the ledger per peer (a SubPlan in the plan).
PEER_COMPARISON = (
    "SELECT a.id, a.balance, (SELECT coalesce(sum(l.amount), 0) FROM ledger_lines l "
    "WHERE l.credit_account_id = a.id AND l.gl_code = 'loans_receivable' AND l.amount < 0) AS repaid "
    "FROM credit_accounts a WHERE a.id >= %s ORDER BY a.id LIMIT %s")
# slow-query: one peer comparison every PEER_EVERY_SECONDS, whatever the rate, each sized to take
# at least PEER_TARGET_SECONDS (well over auto_explain's 200 ms): the first is sized from the
# ledger's row count, each next one from how long the last took (a fast machine scans more peers).
PEER_SCAN_ROWS = 4_000_000
PEER_EVERY_SECONDS = 5.0
PEER_TARGET_SECONDS = 0.5
MAX_PEERS = 5000
APR = {"personal_loan": 0.1290, "auto_loan": 0.0690, "credit_card": 0.2290}


def decide(income, requested, open_accounts, exposure, worst_dpd, history_net, prior_apps):
    """A toy credit policy: a score from income, exposure and delinquency; approve above 620."""
    score = 610 + min(int(float(income) / 2000), 120) - min(int(float(exposure) / 2000), 100)
    score -= min(int(worst_dpd or 0) * 2, 200) + 15 * max(prior_apps - 1, 0) + 10 * open_accounts
    score += 40 if float(history_net or 0) < 0 else 0        # has been repaying
    score = max(300, min(850, score))
    if float(requested) > float(income) * 0.6:
        return score, False, "requested amount above 60% of income"
    return score, score >= 620, "score above cut-off" if score >= 620 else "score below cut-off"


def score_next(cur, history_sql, key, due_in_days):
    if already_applied(cur, key):         # a retry after an unknown COMMIT outcome: it is done
        return {"idempotency_key": key, "replayed": True}
    cur.execute("SELECT a.id, a.customer_id, a.product, a.requested_amount, a.term_months, c.annual_income "
                "FROM credit_applications a JOIN customers c ON c.id = a.customer_id "
                "WHERE a.status = 'submitted' ORDER BY a.submitted_at LIMIT 1 FOR UPDATE OF a SKIP LOCKED")
    app = cur.fetchone()
    if app is None:
        return {"queue": "empty"}
    app_id, customer_id, product, requested, term, income = app
    cur.execute("SELECT id, balance, days_past_due FROM credit_accounts WHERE customer_id = %s", (customer_id,))
    accounts = cur.fetchall()
    ids = [a[0] for a in accounts]
    history_net = 0
    if ids:
        cur.execute(history_sql, (ids,))
        history_net = sum(float(r[2]) for r in cur.fetchall())
    cur.execute("SELECT count(*) FROM credit_applications WHERE customer_id = %s", (customer_id,))
    prior = cur.fetchone()[0]
    score, approved, reason = decide(income, requested, len(ids), sum(float(a[1]) for a in accounts),
                                     max((a[2] for a in accounts), default=0), history_net, prior)
    cur.execute("UPDATE credit_applications SET status = %s, score = %s, decision_reason = %s, decided_at = now() "
                "WHERE id = %s AND status = 'submitted'",
                ("approved" if approved else "declined", score, reason, app_id))
    result = {"application_id": app_id, "customer_id": customer_id, "score": score,
              "decision": "approved" if approved else "declined", "replayed": False}
    if approved:
        result.update(open_account(cur, app_id, customer_id, product, requested, term, key, due_in_days))
    return result


def open_account(cur, app_id, customer_id, product, amount, term, key, due_in_days):
    """Open the account and book the disbursement: receivable debit, cash credit, balance to match."""
    cur.execute("INSERT INTO credit_accounts (customer_id, application_id, product, credit_limit, apr, term_months, "
                "balance, next_due_date) VALUES (%s, %s, %s, %s, %s, %s, %s, current_date + %s) "
                "ON CONFLICT (application_id) DO NOTHING RETURNING id",
                (customer_id, app_id, product, amount, APR[product], term, amount, due_in_days))
    row = cur.fetchone()
    if row is None:
        return {"replayed": True}
    account_id = row[0]
    entry_id = ledger.book(cur, account_id, "disbursement", f"disbursement of application {app_id}", key,
                           ledger.RECEIVABLE, "cash", amount)
    return {"account_id": account_id, "journal_entry_id": entry_id, "idempotency_key": key,
            "amount": float(amount)}


def customer_profile(cur, start_id, history_sql):
    """The read side of scoring: a customer's exposure, worst delinquency and repayment history."""
    cur.execute("SELECT c.id, c.region, count(a.id), coalesce(sum(a.balance), 0), coalesce(max(a.days_past_due), 0) "
                "FROM customers c LEFT JOIN credit_accounts a ON a.customer_id = c.id "
                "WHERE c.id = (SELECT id FROM customers WHERE id >= %s ORDER BY id LIMIT 1) GROUP BY c.id, c.region",
                (start_id,))
    row = cur.fetchone()
    if row is None:
        return {"customer_id": None}
    cur.execute("SELECT id FROM credit_accounts WHERE customer_id = %s", (row[0],))
    ids = [r[0] for r in cur.fetchall()]
    if ids:
        cur.execute(history_sql, (ids,))
        cur.fetchall()
    return {"customer_id": row[0], "accounts": len(ids)}


def peer_comparison(cur, start_id, peers):
    cur.execute(PEER_COMPARISON, (start_id, peers))
    rows = cur.fetchall()
    return {"peers": len(rows)}


def timed_peer_comparison(cur, start_id, peers, resize):
    """The peer comparison, then resize(seconds it took) to size the next one."""
    started = time.perf_counter()
    result = peer_comparison(cur, start_id, peers)
    resize(time.perf_counter() - started)
    return result


class Service(BaseService):
    key = "scoring"

    def __init__(self, settings):
        super().__init__(settings)
        self.slow = settings.scenario == "slow-query"
        self.history_sql = HISTORY_UNINDEXED if self.slow else HISTORY_INDEXED
        self.max_customer = self.max_account = 1
        self.peers = 1

    def prepare(self, cur):
        cur.execute("SELECT coalesce(max(id), 1) FROM customers")
        self.max_customer = cur.fetchone()[0]
        cur.execute("SELECT coalesce(max(id), 1) FROM credit_accounts")
        self.max_account = cur.fetchone()[0]
        if self.slow:
            cur.execute("SELECT count(*) FROM ledger_lines")
            self.peers = max(1, min(200, PEER_SCAN_ROWS // max(cur.fetchone()[0], 1)))

    def background(self, runner):
        """slow-query: the peer comparison, on its own session, sized to stay slow."""
        return [lambda: self._peer_loop(runner)] if self.slow else []

    def _peer_loop(self, runner):
        runner.repeat(lambda: Operation("peer_comparison", timed_peer_comparison, (1, self.peers, self._resize),
                                        {"credit.peers": self.peers}), PEER_EVERY_SECONDS)

    def _resize(self, took: float) -> None:
        """After a comparison that took `took` seconds: enough peers for PEER_TARGET_SECONDS, with margin."""
        if took < PEER_TARGET_SECONDS:
            self.peers = min(MAX_PEERS, max(self.peers + 1, int(self.peers * 1.5 * PEER_TARGET_SECONDS / max(took, 0.001))))

    def next_operation(self, rng):
        if rng.random() < 0.8:
            return Operation("score_application", score_next, (self.history_sql, new_key(), rng.randint(20, 40)),
                             {"credit.history_query": "unindexed" if self.history_sql is HISTORY_UNINDEXED
                              else "indexed"})
        return Operation("customer_profile", customer_profile, (rng.randint(1, self.max_customer), self.history_sql),
                         read_only=True)
