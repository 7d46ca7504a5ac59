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
STORM_OPENS_PER_SECOND = 10  # connection-storm: how fast the leaking pool grows (and churns once full)
STORM_HEADROOM = 1           # a slot of the role left for a service's reconnect


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
        return Operation("application_status", application_status, (rng.randint(1, self.max_application),),
                         read_only=True)

    def background(self, runner):
        return [lambda: storm_loop(runner)] if self.storm else []


def storm_size(cur, settings) -> int:
    """How many connections the storm keeps: what the role's CONNECTION LIMIT leaves after every
    service's own (one per worker) and STORM_HEADROOM. credit_app's limit is set so that this
    crosses PostgresTooManyConnections' share of max_connections, while the monitors' roles keep
    slots of their own (configs/postgres/initdb/10-roles.sql)."""
    cur.execute("SELECT rolconnlimit, current_setting('max_connections')::int FROM pg_roles WHERE rolname = current_user")
    limit, max_connections = cur.fetchone()
    if limit < 0:                     # no role limit: stay under the server's own
        limit = max_connections - 10
    return max(1, limit - len(settings.services) * settings.threads - STORM_HEADROOM)


def storm_loop(runner):
    """connection-storm: a pool that leaks. A new connection every 1/STORM_OPENS_PER_SECOND s, one
    lookup on it, then it is kept open; past storm_size() the oldest is closed for each new one."""
    import collections

    import psycopg2

    from .. import tracing
    held = collections.deque()
    size = None
    try:
        while not runner.stop.wait(1 / STORM_OPENS_PER_SECOND):
            try:
                conn = psycopg2.connect(**runner.settings.connect_kwargs(runner.key))
            except psycopg2.OperationalError:
                runner.stats.count("storm_refused")
                runner.stop.wait(1.0)
                continue
            try:
                with tracing.root_span(runner.key, "storm_lookup", runner.settings.scenario), conn.cursor() as cur:
                    if size is None:
                        size = storm_size(cur, runner.settings)
                    application_status(cur, 1)
                conn.commit()
            except psycopg2.Error:
                conn.close()
                continue
            held.append(conn)
            runner.stats.count("storm_connections")
            while len(held) > size:
                held.popleft().close()
    finally:
        for conn in held:
            conn.close()
