"""Prometheus config and rules, checked by the promtool of the Prometheus image the stack pins
(2.53.3) on the rendered files, in a container of that image."""
from pathlib import Path

import pytest
import yaml

from components.render import prometheus
from tests.integration import images
from tests.integration.containers import run_once

REPO = Path(__file__).resolve().parents[2]
RULE_TESTS = REPO / "configs" / "prometheus" / "tests"
WORK = "/tmp/promtool"   # the repo's layout: rules/ and tests/ side by side (the tests load ../rules/)


def _promtool(*args, files: dict, cwd: str = WORK):
    """promtool in the pinned Prometheus image, `files` (container path -> text) in place."""
    return run_once(images.prometheus(), list(args), files=files,
                    entrypoint=["/bin/sh", "-c", f'cd {cwd} && exec promtool "$@"', "promtool"])


def _tree(scrape_interval="10s") -> dict:
    """Config and rules as the container gets them, under WORK instead of /etc/prometheus."""
    files = {f"{WORK}/rules/{name}": text for name, text in prometheus.rule_files().items()}
    files[f"{WORK}/prometheus.yml"] = prometheus.config(scrape_interval, "postgres-exporter:9187",
                                                        rules_dir=f"{WORK}/rules")
    return files


def _alerts():
    names = []
    for text in prometheus.rule_files().values():
        for group in yaml.safe_load(text)["groups"]:
            names += [rule["alert"] for rule in group["rules"] if "alert" in rule]
    return names


@pytest.mark.parametrize("interval", ["1s", "10s", "1m30s"])
def test_promtool_accepts_rendered_config_and_rules(interval):
    result = _promtool("check", "config", f"{WORK}/prometheus.yml", files=_tree(interval))
    assert result.returncode == 0, result.stdout + result.stderr
    # check config also loads the rule files the glob finds: make sure it found ours.
    assert "rules found" in result.stdout, result.stdout


def test_default_container_config_points_at_container_paths():
    document = yaml.safe_load(prometheus.config("10s", "postgres-exporter:9187"))
    assert document["rule_files"] == [f"{prometheus.RULES_DIR}/*.yml"]
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in document["scrape_configs"]}
    assert jobs == {"postgres": ["postgres-exporter:9187"], "prometheus": ["localhost:9090"]}
    assert document["global"]["scrape_interval"] == "10s"
    assert f"--config.file={prometheus.CONFIG_PATH}" in prometheus.args()


def test_promtool_rule_unit_tests_pass():
    """The repo's rule tests, run on the rendered rules (thresholds from components/alerts.py) laid
    out as in the repo: tests/ next to rules/, which the tests name as ../rules/."""
    files = {**_tree(), **{f"{WORK}/tests/{test.name}": test.read_text() for test in RULE_TESTS.glob("*.yml")}}
    result = _promtool("test", "rules", *sorted(p.name for p in RULE_TESTS.glob("*.yml")), files=files,
                       cwd=f"{WORK}/tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case():
    fired, quiet = set(), set()
    for path in RULE_TESTS.glob("*.yml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    alerts = set(_alerts())
    assert len(alerts) >= 10
    assert alerts - fired == set(), "alerts without a firing promtool case"
    assert alerts - quiet == set(), "alerts without a quiet promtool case"


def test_rule_tests_load_the_shipped_rule_files():
    shipped = set(prometheus.rule_files())
    for path in RULE_TESTS.glob("*.yml"):
        loaded = {Path(f).name for f in yaml.safe_load(path.read_text())["rule_files"]}
        assert loaded <= shipped


@pytest.mark.parametrize("value", ["1s", "10s", "1m30s", "2h", "500ms", "1d", "1w", "1y"])
def test_durations_prometheus_accepts(value):
    assert prometheus.is_duration(value)
    assert prometheus.validate_interval(value) == value


@pytest.mark.parametrize("value", ["", "10", "s", "1.5s", "10S", "30s1m", " 10s", "10 s", None, 10, "0", "0s"])
def test_bad_intervals_get_one_clear_error(value):
    with pytest.raises(ValueError, match="scrapeInterval must be a positive Prometheus duration"):
        prometheus.validate_interval(value)


def test_is_duration_agrees_with_prometheus_itself():
    # The grammar check must match what promtool accepts, both ways.
    for value, ok in [("15s", True), ("1h30m", True), ("90s", True), ("1.5s", False), ("30s1m", False)]:
        assert prometheus.is_duration(value) is ok
        config = f"{WORK}/prometheus.yml"
        result = _promtool("check", "config", config, files={config: f"global:\n  scrape_interval: {value}\n"})
        assert (result.returncode == 0) is ok, (value, result.stdout + result.stderr)


def test_rules_select_the_job_the_scrape_config_names():
    import re
    for name, text in prometheus.rule_files().items():
        jobs = set(re.findall(r'job="([^"]*)"', text))
        assert jobs == {prometheus.EXPORTER_JOB}, (name, jobs)
