"""Read panel queries out of provisioned dashboard JSON and expand them the way Grafana does.

Grafana (public/app/features/templating, pkg/tsdb/prometheus) substitutes, for a Prometheus
datasource with `timeInterval` = the scrape interval:
  $__interval       max(range / maxDataPoints, timeInterval), rounded to a "nice" step
  $__rate_interval  max($__interval + timeInterval, 4 * timeInterval)
  $__range          the dashboard range in seconds, e.g. "1800s"  ($__range_s without unit)
and dashboard variables ($database, ${database}) by their current value.
"""
import json
import re
from dataclasses import dataclass

from components.render import prometheus as prom_render


# Grafana's maxDataPoints defaults to the panel width in pixels; a half-width panel on a
# laptop is ~900 px. The exact value only changes the step, not whether data comes back.
MAX_DATA_POINTS = 900


def seconds(duration: str) -> float:
    """A Prometheus/Grafana duration ('1m30s', '500ms') in seconds, by the renderer's own grammar."""
    value = prom_render.duration_seconds(duration)
    if value is None:
        raise ValueError(f"not a duration: {duration!r}")
    return value


def _fmt(value: float) -> str:
    return f"{int(value * 1000)}ms" if value < 1 else f"{int(round(value))}s"


@dataclass
class Target:
    panel: str
    panel_type: str
    ref_id: str
    expr: str          # as written in the dashboard
    instant: bool
    datasource_uid: str


def targets(dashboard_json: str) -> list[Target]:
    """Every query of every panel (rows included, should one hold panels)."""
    board = json.loads(dashboard_json)
    result = []
    panels = list(board["panels"])
    for row in [p for p in panels if p["type"] == "row"]:
        panels += row.get("panels", [])
    for panel in panels:
        for target in panel.get("targets", []):
            ds = target.get("datasource") or panel.get("datasource") or {}
            result.append(Target(panel["title"], panel["type"], target["refId"], target["expr"],
                                 bool(target.get("instant")) and not target.get("range"), ds.get("uid", "")))
    return result


def variables(dashboard_json: str) -> dict[str, str]:
    """Current value of each dashboard variable; the datasource variable resolves to its uid."""
    board = json.loads(dashboard_json)
    return {v["name"]: v["current"]["value"] for v in board["templating"]["list"]}


def time_range_seconds(dashboard_json: str) -> float:
    """The dashboard's default range ('now-30m' to 'now')."""
    board = json.loads(dashboard_json)
    start, end = board["time"]["from"], board["time"]["to"]
    if end != "now" or not start.startswith("now-"):
        raise ValueError(f"unsupported dashboard time range {start}..{end}")
    return seconds(start[len("now-"):])


def expand(expr: str, values: dict[str, str], range_s: float, scrape_interval: str,
           max_data_points: int = MAX_DATA_POINTS) -> tuple[str, float]:
    """(PromQL as Grafana sends it, query step in seconds)."""
    scrape = seconds(scrape_interval)
    interval = max(range_s / max_data_points, scrape)
    interval = round(interval) if interval >= 1 else interval
    rate_interval = max(interval + scrape, 4 * scrape)
    builtins = {
        "__rate_interval": _fmt(rate_interval), "__interval": _fmt(interval),
        "__range": f"{int(range_s)}s", "__range_s": str(int(range_s)), "__range_ms": str(int(range_s * 1000)),
    }
    everything = {**values, **builtins}

    def substitute(match):
        name = match.group(1) or match.group(2)
        if name not in everything:
            raise KeyError(f"unknown variable ${name} in {expr!r}")
        return everything[name]

    # Longest names first is implicit: the regex takes whole identifiers.
    text = re.sub(r"\$\{(\w+)\}|\$(\w+)", substitute, expr)
    return text, interval


def datasource_uid(target: Target, values: dict[str, str]) -> str:
    uid = target.datasource_uid
    return values["datasource"] if uid in ("${datasource}", "$datasource") else uid


