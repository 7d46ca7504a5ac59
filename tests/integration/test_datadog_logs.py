"""The Datadog Agent's log rule for PostgreSQL, applied to the real server's log.

The Agent does not run here; its multi_line rule is a regular expression that opens a new log
entry at a matching line start. Applied to a real log written with the lab's server flags, every
auto_explain entry must come out whole: its JSON plan parses.
"""
import json
import re
import uuid

from components import topology
from components.render import datadog as render
from tests.integration.containers import wait_for

LOG_WRITE_TIMEOUT_S = 10


def split_entries(log_text: str) -> list[str]:
    """Group lines the way the multi_line rule does: a line matching the pattern starts an entry."""
    entries: list[list[str]] = []
    for line in log_text.splitlines():
        if re.match(render.MULTI_LINE_START, line) or not entries:
            entries.append([line])
        else:
            entries[-1].append(line)
    return ["\n".join(lines) for lines in entries]


def test_auto_explain_plan_stays_one_entry(lab_postgres):
    marker = f"dd_logs_{uuid.uuid4().hex[:8]}"
    with lab_postgres.connect(topology.WORKLOAD_ROLE, topology.DATABASE) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT pg_sleep(0.3) AS {marker}")
    # The log arrives line by line, as Docker's json-file gets it; the statement line comes after
    # the whole plan. The server writes it as soon as the statement ends: seconds at most.
    wait_for(lambda: f"statement: SELECT pg_sleep(0.3) AS {marker}" in lab_postgres.log_text(),
             LOG_WRITE_TIMEOUT_S, "the plan and the statement in the server log")
    entries = [e for e in split_entries(lab_postgres.log_text()) if f"AS {marker}" in e and "plan:" in e]
    assert len(entries) == 1, f"auto_explain entry for {marker} split or missing: {entries}"
    entry = entries[0]
    assert len(entry.splitlines()) > 1, "the plan is multi-line JSON: the rule is what keeps it whole"
    plan = json.loads(entry.split("plan:", 1)[1])
    assert plan["Query Text"].endswith(f"AS {marker}")
    assert "Plan" in plan


def test_every_server_log_line_prefix_opens_an_entry(lab_postgres):
    """Lines written by the server start with log_line_prefix's %m timestamp; none is swallowed."""
    text = lab_postgres.log_text()
    prefixed = [line for line in text.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", line)]
    assert prefixed, "no prefixed line in the server log"
    assert len(split_entries(text)) >= len(prefixed)
