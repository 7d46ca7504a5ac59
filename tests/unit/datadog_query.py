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
