"""A small checker for the Datadog query forms the lab uses, from Datadog's API reference
(Monitors, "Create a monitor", `query`):
  metric alert:   time_aggr(time_window):space_aggr:metric{tags} [by {key}] operator #
                  with arithmetic between metrics (+ - * /, parentheses) and .as_count()/.as_rate();
                  time_aggr avg, sum, min, max, change, pct_change, or percentile with a pXX space
                  aggregation (distribution metrics);
  service check:  "check".over(tags).last(count).by(group).count_by_status() (group required;
                  count at least the largest threshold, at most 100)
and the same metric expressions in dashboard requests (optionally wrapped in top(expr, N, 'agg', 'dir')).
A query outside these forms raises ValueError, with what was expected.
"""
from __future__ import annotations

import re

TIME_AGGREGATIONS = ("avg", "sum", "min", "max", "change", "pct_change", "percentile")
SPACE_AGGREGATIONS = ("avg", "sum", "min", "max")
PERCENTILES = ("p50", "p75", "p90", "p95", "p99")
_TAG = r"[a-z][a-z0-9_./-]*:[a-z0-9_./-]+"
_TERM = re.compile(
    rf"(?P<aggr>{'|'.join(SPACE_AGGREGATIONS + PERCENTILES)}):(?P<metric>[a-z][a-z0-9_.]*[a-z0-9_])"
    rf"\{{(?P<tags>\*|{_TAG}(?:,{_TAG})*)\}}"
    r"(?P<by>\s+by\s+\{[a-z][a-z0-9_.]*(?:,[a-z][a-z0-9_.]*)*\})?"
    r"(?P<fn>\.as_count\(\)|\.as_rate\(\))?")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_HEADER = re.compile(rf"^(?P<time>{'|'.join(TIME_AGGREGATIONS)})\((?P<window>last_[0-9]+[mhdw])\):")
_COMPARISON = re.compile(r"\s(?P<op><=|>=|<|>|==|!=)\s(?P<value>-?[0-9]+(?:\.[0-9]+)?)$")
_SERVICE_CHECK = re.compile(
    r'^"(?P<check>[a-z][a-z0-9_.]*)"\.over\((?P<over>"[^"]+"(?:,"[^"]+")*)\)'
    r'\.last\((?P<last>[0-9]+)\)\.by\((?P<by>"[^"]+"(?:,"[^"]+")*)\)\.count_by_status\(\)$')


def expression(text: str) -> list[dict]:
    """The metric terms of an arithmetic expression of terms and numbers; ValueError when it is not one."""
    terms, depth, expect_operand, i = [], 0, True, 0
    text = text.strip()
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        if expect_operand:
            if text[i] == "(":
                depth, i = depth + 1, i + 1
                continue
            m = _TERM.match(text, i) or _NUMBER.match(text, i)
            if not m:
                raise ValueError(f"expected a metric term (aggr:metric{{tags}}) or a number at {text[i:]!r}")
            if m.re is _TERM:
                terms.append(m.groupdict())
            i, expect_operand = m.end(), False
        else:
            if text[i] == ")":
                depth, i = depth - 1, i + 1
                if depth < 0:
                    raise ValueError(f"unbalanced ')' in {text!r}")
                continue
            if text[i] not in "+-*/":
                raise ValueError(f"expected an operator + - * / at {text[i:]!r}")
            i, expect_operand = i + 1, True
    if expect_operand or depth:
        raise ValueError(f"incomplete expression {text!r}")
    if not terms:
        raise ValueError(f"no metric in {text!r}")
    return terms


def metric_monitor(query: str) -> dict:
    """The parts of a metric monitor query: time aggregation, window, terms, operator, threshold."""
    header = _HEADER.match(query)
    if not header:
        raise ValueError(f"expected time_aggr(last_N[mhdw]): at the start of {query!r}")
    comparison = _COMPARISON.search(query)
    if not comparison:
        raise ValueError(f"expected ' operator number' at the end of {query!r}")
    terms = expression(query[header.end():comparison.start()])
    if header["time"] == "percentile" and any(t["aggr"] not in PERCENTILES for t in terms):
        raise ValueError(f"percentile() needs pXX: terms in {query!r}")
    return {"time": header["time"], "window": header["window"], "terms": terms, "op": comparison["op"],
            "threshold": float(comparison["value"])}


def service_check_monitor(query: str) -> dict:
    m = _SERVICE_CHECK.match(query)
    if not m:
        raise ValueError(f'expected "check".over(...).last(N).by(...).count_by_status(), got {query!r}')
    if not 1 <= int(m["last"]) <= 100:
        raise ValueError(f"last({m['last']}): count must be 1 to 100")
    return {"check": m["check"], "over": re.findall(r'"([^"]+)"', m["over"]), "last": int(m["last"]),
            "by": re.findall(r'"([^"]+)"', m["by"])}


def dashboard_request(query: str) -> list[dict]:
    """The metric terms of a dashboard request (an expression, or top(expression, N, 'agg', 'dir'))."""
    top = re.fullmatch(r"top\((?P<expr>.+), [0-9]+, '(?:sum|avg|max|min|last|area|l2norm|norm)', '(?:asc|desc)'\)",
                       query)
    return expression(top["expr"] if top else query)


# ---- evaluating a metric monitor over data points (Datadog docs, Monitors guides) -------------------
# "as_count() in Monitor Evaluations": a monitor with arithmetic and at least one .as_count() term
# aggregates each term over the window first, then does the arithmetic (sum(errors) / sum(hits));
# any other does the arithmetic on each aligned point and aggregates the results over the window
# (the classic path). "Monitor Arithmetic and Sparse Metrics": a point whose arithmetic has no value
# (a missing term, a division by zero) is skipped; a window with none left has no data.
OPERATORS = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
             "<=": lambda a, b: a <= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
WINDOW_UNITS_S = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
# The trace metrics' stats buckets are 10 s (Datadog APM, trace metrics): the points the classic path aligns.
BUCKET_S = 10


def window_seconds(window: str) -> int:
    return int(window[len("last_"):-1]) * WINDOW_UNITS_S[window[-1]]


def _arithmetic(text: str, values: list) -> float | None:
    """The expression with its metric terms replaced, in order, by `values`; None when a term has no
    value or a division is by zero."""
    tokens, index, i = [], 0, 0
    text = text.strip()
    while i < len(text):
        if text[i] == " ":
            i += 1
        elif text[i] in "+-*/()":
            tokens.append(text[i])
            i += 1
        elif m := _TERM.match(text, i):
            tokens.append(values[index])
            index, i = index + 1, m.end()
        elif m := _NUMBER.match(text, i):
            tokens.append(float(m.group()))
            i = m.end()
        else:
            raise ValueError(f"cannot evaluate {text[i:]!r}")
    position = 0

    def operand():
        nonlocal position
        token = tokens[position]
        position += 1
        if token == "(":
            value = expression_()
            position += 1          # ")"
            return value
        return token

    def product():
        nonlocal position
        value = operand()
        while position < len(tokens) and tokens[position] in ("*", "/"):
            op, position = tokens[position], position + 1
            right = operand()
            if value is None or right is None or (op == "/" and right == 0):
                value = None
            else:
                value = value * right if op == "*" else value / right
        return value

    def expression_():
        nonlocal position
        value = product()
        while position < len(tokens) and tokens[position] in ("+", "-"):
            op, position = tokens[position], position + 1
            right = product()
            value = None if value is None or right is None else value + right if op == "+" else value - right
        return value
    return expression_()


def evaluate(query: str, events, now_s: float) -> tuple[float | None, bool]:
    """(the monitor's value over its window ending at `now_s`, whether it fires) for a metric monitor
    whose terms are counts: `events(term)` gives each term's (time in s, count) points. No data
    (None) never fires."""
    parsed = metric_monitor(query)
    header, comparison = _HEADER.match(query), _COMPARISON.search(query)
    text = query[header.end():comparison.start()]
    start = now_s - window_seconds(parsed["window"])
    per_term = [[(t, n) for t, n in events(term) if start <= t <= now_s] for term in parsed["terms"]]
    if parsed["time"] not in ("sum", "avg", "min", "max"):
        raise ValueError(f"only sum/avg/min/max monitors are evaluated here, not {parsed['time']}")
    if any(term["fn"] == ".as_count()" for term in parsed["terms"]):
        if parsed["time"] != "sum":
            raise ValueError(f"{parsed['time']}() of .as_count() terms: Datadog advises sum only")
        value = _arithmetic(text, [sum(n for _, n in points) if points else None for points in per_term])
    else:
        buckets = {}
        for index, points in enumerate(per_term):
            for t, n in points:
                slot = buckets.setdefault(int((t - start) // BUCKET_S), [0.0] * len(per_term))
                slot[index] += n / (1 if parsed["terms"][index]["fn"] else BUCKET_S)   # as_rate by default
        results = [v for slot in buckets.values() if (v := _arithmetic(text, slot)) is not None]
        aggregate = {"sum": sum, "avg": lambda r: sum(r) / len(r), "min": min, "max": max}[parsed["time"]]
        value = aggregate(results) if results else None
    return value, value is not None and OPERATORS[parsed["op"]](value, parsed["threshold"])
