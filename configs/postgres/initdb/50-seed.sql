-- Seed data, generated in SQL: CREDIT_SEED_CUSTOMERS customers and their history. The container always
-- sets it, from the stack's seedCustomers (its default and allowed range live in Pulumi.yaml and
-- components/settings.py); here it is only checked to be a number.
--
-- Per customer i (ids are explicit and deterministic, so runs at one scale are comparable):
--   1 or 2 credit applications (1.5 per customer); 80% have an account opened 1-6 months ago
--   (i % 5 <> 0), a few stay 'submitted' for scoring's queue;
--   per account: a disbursement, then each month an interest accrual and a payment; accounts with
--   i % 11 = 0 missed their last two payments: delinquent, with an open collection case;
--   every event is a balanced journal entry with two ledger lines (~16 lines per account:
--   ~1.3M ledger lines at the default scale), a settled payment row per payment, a monthly
--   statement per completed month.
-- Runs only when customers is empty (idempotent; reapply on start does not reseed a used database)
-- and in one transaction, so an interrupted seed leaves nothing behind and the next start redoes it.
\set ON_ERROR_STOP on
\connect creditdb
SET client_min_messages = warning;  -- reruns: no "already exists, skipping" noise

\getenv seed_customers CREDIT_SEED_CUSTOMERS
\if :{?seed_customers} \else \set seed_customers unset \endif
SELECT (:'seed_customers' ~ '^[0-9]+$') AS seed_valid \gset
\if :seed_valid
\else
SELECT set_config('credit_lab.seed_customers', :'seed_customers', false) \g /dev/null
DO $$ BEGIN
    RAISE EXCEPTION 'CREDIT_SEED_CUSTOMERS must be a whole number of customers, got "%"',
        current_setting('credit_lab.seed_customers');
END $$;
\endif

SELECT NOT EXISTS (SELECT 1 FROM customers) AS seed_needed \gset
\if :seed_needed
\echo seeding :seed_customers customers
BEGIN;
-- The seed is one big statement per table: keep it out of the slow-statement log and auto_explain,
-- and skip per-row trigger work (FK checks, ledger balance check): the rows are consistent by
-- construction and the tests verify it afterwards.
SET LOCAL log_min_duration_statement = -1;
SET LOCAL auto_explain.log_min_duration = -1;
-- Nor in pg_stat_statements: seconds-long seed INSERTs would top every "slowest statements" view
-- (DBM's, the dashboard's) for the life of the volume.
SET LOCAL pg_stat_statements.track = none;
SET LOCAL session_replication_role = replica;
SET LOCAL synchronous_commit = off;
SET LOCAL work_mem = '64MB';
SELECT set_config('credit_lab.n', :'seed_customers', true) \g /dev/null

INSERT INTO customers (id, full_name, email, national_id, birth_date, region, annual_income, created_at)
SELECT i,
       (ARRAY['Ana','Ben','Chloe','Dmitri','Elif','Farah','Goran','Hana','Ivan','Jun'])[1 + i % 10] || ' ' ||
       (ARRAY['Silva','Okafor','Novak','Tanaka','Berg','Rossi','Haddad','Kim','Moreau','Lopez','Singh'])[1 + i % 11],
       'customer' || i || '@example.test',
       'NID' || lpad(i::text, 9, '0'),
       date '1950-01-01' + ((i::bigint * 7919) % 18000)::int,
       (ARRAY['north','south','east','west','central','coast','mountain','islands'])[1 + i % 8],
       18000 + (i::bigint * 104729) % 182000,
       now() - make_interval(days => 200 + i % 1500)
  FROM generate_series(1, current_setting('credit_lab.n')::int) AS i;

-- Application k of customer i has id i (k=1) or n+i (k=2). k=1 with i % 5 <> 0 is approved and
-- becomes account i; every 100th customer has a fresh submitted one waiting for scoring.
INSERT INTO credit_applications (id, customer_id, product, requested_amount, term_months, status, score,
                                 decision_reason, submitted_at, decided_at, idempotency_key)
SELECT a.id, a.i, a.product, a.amount, a.term,
       a.status,
       CASE WHEN a.status IN ('approved', 'declined') THEN a.score END,
       CASE a.status WHEN 'approved' THEN 'score above cutoff' WHEN 'declined' THEN 'score below cutoff' END,
       a.submitted_at,
       CASE WHEN a.status <> 'submitted' THEN a.submitted_at + interval '2 hours' END,
       gen_random_uuid()
  FROM (
    SELECT CASE k WHEN 1 THEN i ELSE n + i END AS id, i,
           (ARRAY['personal_loan','auto_loan','credit_card'])[1 + i % 3] AS product,
           (1000 + (i * 37 % 20) * 500)::numeric(14,2) AS amount,
           (ARRAY[12, 24, 36, 48, 60])[1 + i % 5]::smallint AS term,
           CASE WHEN k = 1 AND i % 5 <> 0 THEN 'approved'
                WHEN k = 2 AND i % 100 = 1 THEN 'submitted'
                WHEN k = 2 AND i % 7 = 0 THEN 'withdrawn'
                ELSE 'declined' END AS status,
           (CASE WHEN k = 1 AND i % 5 <> 0 THEN 620 + i % 230 ELSE 380 + i % 240 END)::smallint AS score,
           CASE WHEN k = 1 THEN date_trunc('day', now()) - make_interval(months => 1 + i % 6, days => 7)
                WHEN i % 100 = 1 THEN now() - make_interval(mins => i % 600)
                ELSE now() - make_interval(days => 1 + i % 90) END AS submitted_at
      FROM generate_series(1, current_setting('credit_lab.n')::int) AS i
     CROSS JOIN LATERAL generate_series(1, 1 + i % 2) AS k
     CROSS JOIN (SELECT current_setting('credit_lab.n')::bigint AS n) AS c
  ) AS a;

-- Money events of each account: month 0 disbursement, months 1..m interest, and a payment for each
-- month except the last two when i % 11 = 0 (delinquent).
CREATE TEMP TABLE seed_accounts ON COMMIT DROP AS
SELECT i AS account_id,
       1 + i % 6 AS months_open,
       (1000 + (i * 37 % 20) * 500)::numeric(14,2) AS principal,
       ((ARRAY[0.0890, 0.1290, 0.1990, 0.2490])[1 + i % 4])::numeric(6,4) AS apr,
       (ARRAY[12, 24, 36, 48, 60])[1 + i % 5] AS term,
       date_trunc('day', now()) - make_interval(months => 1 + i % 6, days => 5) AS opened_at,
       (i % 11 = 0) AS delinquent
  FROM generate_series(1, current_setting('credit_lab.n')::int) AS i
 WHERE i % 5 <> 0;

CREATE TEMP TABLE seed_events ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY e.account_id, e.month, e.ord) AS entry_id, e.*
  FROM (
    SELECT account_id, 0 AS month, 0 AS ord, 'disbursement' AS kind, principal AS amount, opened_at AS posted_at
      FROM seed_accounts
    UNION ALL
    SELECT a.account_id, m, 1, 'interest', round(a.principal * a.apr / 12, 2),
           a.opened_at + make_interval(months => m)
      FROM seed_accounts AS a CROSS JOIN LATERAL generate_series(1, a.months_open) AS m
    UNION ALL
    SELECT a.account_id, m, 2, 'payment', round(a.principal / a.term + a.principal * a.apr / 12, 2),
           a.opened_at + make_interval(months => m, days => 3)
      FROM seed_accounts AS a
     CROSS JOIN LATERAL generate_series(1, a.months_open - CASE WHEN a.delinquent THEN 2 ELSE 0 END) AS m
  ) AS e;

INSERT INTO credit_accounts (id, customer_id, application_id, product, credit_limit, apr, term_months, balance,
                             status, opened_at, next_due_date, days_past_due)
SELECT a.account_id, a.account_id, a.account_id,
       (ARRAY['personal_loan','auto_loan','credit_card'])[1 + a.account_id % 3],
       a.principal, a.apr, a.term,
       b.balance,
       CASE WHEN a.delinquent THEN 'delinquent' ELSE 'active' END,
       a.opened_at,
       CASE WHEN a.delinquent THEN (a.opened_at + make_interval(months => greatest(a.months_open - 1, 1)))::date
            ELSE (a.opened_at + make_interval(months => a.months_open + 1))::date END,
       CASE WHEN a.delinquent
            THEN greatest(current_date - (a.opened_at + make_interval(months => greatest(a.months_open - 1, 1)))::date, 1)
            ELSE 0 END
  FROM seed_accounts AS a
  JOIN (SELECT account_id, sum(CASE WHEN kind = 'payment' THEN -amount ELSE amount END) AS balance
          FROM seed_events GROUP BY account_id) AS b USING (account_id);

INSERT INTO journal_entries (id, credit_account_id, kind, posted_at, description, idempotency_key)
SELECT entry_id, account_id, kind, posted_at,
       CASE kind WHEN 'disbursement' THEN 'loan disbursed'
                 WHEN 'interest' THEN 'interest for month ' || month
                 ELSE 'payment for month ' || month END,
       gen_random_uuid()
  FROM seed_events;

-- Two lines per entry (ids 2e-1 and 2e): receivable side and cash/income side.
INSERT INTO ledger_lines (id, journal_entry_id, gl_code, credit_account_id, amount, posted_at)
SELECT 2 * entry_id - 1, entry_id, 'loans_receivable', account_id,
       CASE WHEN kind = 'payment' THEN -amount ELSE amount END, posted_at
  FROM seed_events
UNION ALL
SELECT 2 * entry_id, entry_id, CASE kind WHEN 'interest' THEN 'interest_income' ELSE 'cash' END, NULL,
       CASE WHEN kind = 'payment' THEN amount ELSE -amount END, posted_at
  FROM seed_events;

INSERT INTO payments (id, credit_account_id, amount, method, status, received_at, settled_at,
                      journal_entry_id, idempotency_key)
SELECT row_number() OVER (ORDER BY entry_id), account_id, amount,
       (ARRAY['ach','card','wire','cash'])[1 + (entry_id % 4)::int], 'settled',
       posted_at - interval '1 day', posted_at, entry_id, gen_random_uuid()
  FROM seed_events WHERE kind = 'payment';

-- A statement per completed month: balance at the start and end of the month.
INSERT INTO statements (credit_account_id, period_start, period_end, opening_balance, interest_charged,
                        payments_received, closing_balance, minimum_due, due_date, generated_at)
SELECT s.account_id, s.period_start, s.period_end,
       s.closing - s.interest + s.paid, s.interest, s.paid, s.closing,
       round(greatest(s.closing, 0) * 0.03, 2), s.period_end + 21, s.period_end::timestamptz + interval '6 hours'
  FROM (
    SELECT a.account_id,
           (a.opened_at + make_interval(months => m - 1))::date AS period_start,
           (a.opened_at + make_interval(months => m))::date AS period_end,
           coalesce(sum(e.amount) FILTER (WHERE e.kind = 'interest' AND e.month = m), 0) AS interest,
           coalesce(sum(e.amount) FILTER (WHERE e.kind = 'payment' AND e.month = m), 0) AS paid,
           sum(CASE WHEN e.kind = 'payment' THEN -e.amount ELSE e.amount END) FILTER (WHERE e.month <= m) AS closing
      FROM seed_accounts AS a
     CROSS JOIN LATERAL generate_series(1, a.months_open - 1) AS m
      JOIN seed_events AS e ON e.account_id = a.account_id
     GROUP BY a.account_id, m, a.opened_at
  ) AS s;

INSERT INTO collection_cases (credit_account_id, status, opened_at, days_past_due, amount_overdue,
                              assigned_agent, next_action_at)
SELECT ca.id, 'open', now() - make_interval(days => least(ca.days_past_due, 30)), ca.days_past_due,
       round(ca.credit_limit / ca.term_months + ca.credit_limit * ca.apr / 12, 2),
       'agent-' || (1 + ca.id % 12), date_trunc('hour', now()) + make_interval(hours => (ca.id % 72)::int)
  FROM credit_accounts AS ca WHERE ca.status = 'delinquent';

-- The ids above were explicit: move every identity past them.
SELECT setval(pg_get_serial_sequence(tbl, 'id'), (xpath('/row/m/text()',
              query_to_xml(format('SELECT coalesce(max(id), 0) + 1 AS m FROM %I', tbl), false, true, '')))[1]::text::bigint,
              false)
  FROM unnest(ARRAY['customers', 'credit_applications', 'credit_accounts', 'journal_entries', 'ledger_lines',
                    'payments', 'statements', 'collection_cases']) AS tbl \g /dev/null
COMMIT;
ANALYZE;
\endif
