"""applications: credit intake. Short inserts and point lookups, many of them.

Query shapes: customer lookup by primary key; "prior applications of this customer" (a foreign
key without an index: GAP 2 of the schema, so it tops total time in pg_stat_statements); the
intake INSERT made idempotent by its key; new customers; status lookups.
"""
from . import BaseService, Operation, new_key

PRODUCTS = (("personal_loan", 1000, 25000, (12, 24, 36, 48, 60)),
            ("auto_loan", 5000, 60000, (36, 48, 60, 72)),
            ("credit_card", 500, 15000, (12,)))
REGIONS = ("north", "south", "east", "west", "central")
STORM_THREADS = 6            # connection-storm: extra unpaced "connect, look up, disconnect" loops


def submit_application(cur, start_id, product, amount, term, key):
    cur.execute("SELECT id, annual_income FROM customers WHERE id >= %s ORDER BY id LIMIT 1", (start_id,))
    row = cur.fetchone()
    if row is None:
        cur.execute("SELECT id, annual_income FROM customers ORDER BY id LIMIT 1")
        row = cur.fetchone()
        if row is None:
            return {"skipped": "no_customers"}
    customer_id = row[0]
    cur.execute("SELECT count(*), max(submitted_at) FROM credit_applications WHERE customer_id = %s",
                (customer_id,))
    prior = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO credit_applications (customer_id, product, requested_amount, term_months, idempotency_key) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        (customer_id, product, amount, term, key))
    inserted = cur.fetchone()
    return {"customer_id": customer_id, "application_id": inserted[0] if inserted else None,
            "prior_applications": prior, "idempotency_key": key, "replayed": inserted is None}


def register_customer(cur, key, region, income, birth_year):
    # The key doubles as the natural identity: a retried registration hits the unique email.
    cur.execute(
        "INSERT INTO customers (full_name, email, national_id, birth_date, region, annual_income) "
        "VALUES (%s, %s, %s, make_date(%s, 6, 15), %s, %s) ON CONFLICT (email) DO NOTHING RETURNING id",
        (f"Applicant {key[:8]}", f"{key}@applicants.example", f"N-{key}", birth_year, region, income))
    inserted = cur.fetchone()
    return {"customer_id": inserted[0] if inserted else None, "idempotency_key": key,
            "replayed": inserted is None}


def application_status(cur, start_id):
    cur.execute("SELECT id, status, score, submitted_at FROM credit_applications WHERE id >= %s "
                "ORDER BY id LIMIT 1", (start_id,))
    row = cur.fetchone()
    return {"application_id": row[0] if row else None, "status": row[1] if row else None}


class Service(BaseService):
    key = "applications"

    def __init__(self, settings):
        super().__init__(settings)
        self.max_customer = self.max_application = 1

    def prepare(self, cur):
        cur.execute("SELECT coalesce(max(id), 1) FROM customers")
        self.max_customer = cur.fetchone()[0]
        cur.execute("SELECT coalesce(max(id), 1) FROM credit_applications")
        self.max_application = cur.fetchone()[0]

    def next_operation(self, rng):
        roll = rng.random()
        if roll < 0.6:
            product, lo, hi, terms = rng.choice(PRODUCTS)
            amount = round(rng.uniform(lo, hi), -1)
            return Operation("submit_application", submit_application,
                             (rng.randint(1, self.max_customer), product, amount, rng.choice(terms), new_key()),
                             {"credit.product": product, "credit.requested_amount": amount})
        if roll < 0.8:
            region = rng.choice(REGIONS)
            return Operation("register_customer", register_customer,
                             (new_key(), region, round(rng.uniform(18000, 180000), -2), rng.randint(1950, 2004)),
                             {"credit.region": region})
        return Operation("application_status", application_status, (rng.randint(1, self.max_application),))

    def background(self, runner):
        if not self.storm:
            return []
        return [lambda: storm_loop(runner) for _ in range(STORM_THREADS)]


def storm_loop(runner):
    """connection-storm: connect, one lookup, disconnect, again (the no-pool anti-pattern)."""
    from .. import tracing
    from ..db import GaveUp, Session, Stopped
    session = Session(runner.settings.connect_kwargs(runner.key), runner.stop, fresh_per_op=True)
    while not runner.stop.wait(0.05):
        try:
            with tracing.root_span(runner.key, "storm_lookup", runner.settings.scenario):
                session.transaction(application_status, 1)
            runner.stats.count("storm_connections")
        except Stopped:
            return
        except GaveUp:
            runner.stop.wait(0.5)
