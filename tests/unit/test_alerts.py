"""Each alert's threshold and window are defined once (components/alerts.py) and rendered into the
Prometheus rule the container gets."""
import re

import pytest
import yaml

from components import alerts
from components.render import prometheus

SOURCE = (prometheus.SOURCE_RULES_DIR / "postgres.yml").read_text()


def _rendered_alerts() -> dict:
    document = yaml.safe_load(prometheus.rule_files()["postgres.yml"])
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}


def test_every_alert_of_the_rules_is_defined_once_and_every_definition_is_used():
    names = [a.name for a in alerts.ALERTS]
    assert names and len(names) == len(set(names)), names
    assert set(_rendered_alerts()) == set(names)


@pytest.mark.parametrize("alert", alerts.ALERTS, ids=lambda a: a.name)
def test_the_rendered_rule_carries_the_definitions_threshold_and_window(alert):
    rule = _rendered_alerts()[alert.name]
    assert "$" not in rule["expr"] and "$" not in rule["for"], rule
    assert re.search(rf"[<>=]=?\s*{re.escape(alert.substitutions()['threshold'])}\s*$", rule["expr"].strip()), rule
    assert prometheus.duration_seconds(rule["for"]) == alert.for_s, rule
    ranges = {prometheus.duration_seconds(r) for r in re.findall(r"\[(\w+)\]", rule["expr"])}
    if alert.range_s:
        assert ranges == {alert.range_s}, rule


def test_a_rule_without_a_definition_or_with_an_unknown_placeholder_is_a_clear_error():
    unknown = SOURCE.replace("alert: PostgresDown\n", "alert: PostgresGone\n")
    with pytest.raises(ValueError, match="PostgresGone has no definition in components/alerts.py"):
        prometheus.render_rules(unknown)
    typo = SOURCE.replace('pg_up{job="postgres"} == $threshold', 'pg_up{job="postgres"} == $treshold')
    with pytest.raises(ValueError, match="PostgresDown: bad placeholder in expr"):
        prometheus.render_rules(typo)


@pytest.mark.parametrize("seconds,text", [(0, "0s"), (30, "30s"), (60, "1m"), (90, "1m30s"), (600, "10m"),
                                          (3660, "1h1m")])
def test_durations_render_in_prometheus_grammar(seconds, text):
    assert alerts.duration(seconds) == text
    assert prometheus.duration_seconds(text) == seconds
