"""Prometheus 2.53.3: scrape config, rule files and the container's command.

Paths are those of the `prom/prometheus` image (config in /etc/prometheus, TSDB in /prometheus,
runs as `nobody`); tests pass their own paths to the same functions.
"""
import re
import string
from pathlib import Path

import yaml

from components import alerts, topology
from components.render import probe

CONFIG_PATH = "/etc/prometheus/prometheus.yml"
RULES_DIR = "/etc/prometheus/rules"
STORAGE_PATH = "/prometheus"
RETENTION = "7d"

EXPORTER_JOB = "postgres"
PROMETHEUS_JOB = "prometheus"

# The rule files live in the repo; the component uploads them, rendered, to RULES_DIR under the same names.
SOURCE_RULES_DIR = Path(__file__).resolve().parents[2] / "configs" / "prometheus" / "rules"

# Prometheus's duration grammar (model.ParseDuration): units in decreasing order, each once.
_DURATION = re.compile(
    r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$")


# Seconds per unit, in the order of _DURATION's groups.
_UNIT_SECONDS = (31_536_000, 604_800, 86_400, 3_600, 60, 1, 0.001)


def is_duration(value) -> bool:
    """True when `value` is a Prometheus duration such as `10s`, `1m30s` or `0`."""
    if not isinstance(value, str) or not value:
        return False
    return value == "0" or _DURATION.match(value) is not None


def duration_seconds(value) -> float | None:
    """Seconds in a Prometheus duration (`1m30s` -> 90.0); None when it is not one."""
    if not is_duration(value):
        return None
    if value == "0":
        return 0.0
    numbers = _DURATION.match(value).groups()[1::2]
    return float(sum(int(n) * unit for n, unit in zip(numbers, _UNIT_SECONDS) if n))


def validate_interval(value) -> str:
    """The scrape interval if it is a positive Prometheus duration, else one clear error."""
    if not is_duration(value) or not re.search(r"[1-9]", value):
        raise ValueError(
            f"scrapeInterval must be a positive Prometheus duration such as 5s, 15s, 1m or 1m30s "
            f"(units ms, s, m, h, d, w, y, largest first), got {value!r}")
    return value


def config(scrape_interval: str, exporter_target: str, *, rules_dir: str = RULES_DIR,
           prometheus_target: str = f"localhost:{topology.PROMETHEUS_PORT}") -> str:
    """prometheus.yml: the exporter and Prometheus itself, every `scrape_interval`."""
    interval = validate_interval(scrape_interval)
    document = {
        "global": {
            "scrape_interval": interval,
            # Rules see a new sample per evaluation; `for:` clauses count in this unit.
            "evaluation_interval": interval,
            "external_labels": {"lab": "credit-lab"},
        },
        "rule_files": [f"{rules_dir.rstrip('/')}/*.yml"],
        "scrape_configs": [
            {"job_name": EXPORTER_JOB, "static_configs": [{"targets": [exporter_target]}]},
            {"job_name": PROMETHEUS_JOB, "static_configs": [{"targets": [prometheus_target]}]},
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


def render_rules(text: str) -> str:
    """A rule file with each alert's `$threshold`, `$for` and `$range` filled in from
    components/alerts.py (the values the Datadog monitors use too). Every alert of the file must be
    defined there, and every placeholder known: otherwise a clear error, not a half-filled rule."""
    document = yaml.safe_load(text)
    for group in document["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            alert = alerts.BY_NAME.get(rule["alert"])
            if alert is None:
                raise ValueError(f"alert {rule['alert']} has no definition in components/alerts.py")
            values = alert.substitutions()
            for key in ("expr", "for"):
                try:
                    rule[key] = string.Template(str(rule[key])).substitute(values)
                except (KeyError, ValueError) as exc:
                    raise ValueError(f"alert {rule['alert']}: bad placeholder in {key}: {exc}") from None
    return yaml.safe_dump(document, sort_keys=False, width=120)


def rule_files() -> dict[str, str]:
    """Rule file name -> rendered content, as uploaded to RULES_DIR (test files excluded)."""
    return {path.name: render_rules(path.read_text()) for path in sorted(SOURCE_RULES_DIR.glob("*.yml"))}


def args(*, config_path: str = CONFIG_PATH, storage_path: str = STORAGE_PATH,
         listen_address: str | None = None) -> list[str]:
    """The container's command (replaces the image's CMD); tests override paths and address."""
    result = [
        f"--config.file={config_path}",
        f"--storage.tsdb.path={storage_path}",
        f"--storage.tsdb.retention.time={RETENTION}",
        # No --web.enable-lifecycle: new files come with a replaced container, and an
        # unauthenticated POST /-/quit on a published port is not worth having.
    ]
    if listen_address:
        result.append(f"--web.listen-address={listen_address}")
    return result


# Readiness endpoint (200 once the TSDB is open and rules are loaded).
HEALTH_PATH = "/-/ready"


def healthcheck() -> list[str]:
    """Docker healthcheck test."""
    return probe.http(topology.PROMETHEUS_PORT, HEALTH_PATH)
