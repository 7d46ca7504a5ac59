"""README states what the code does: the config table, the memory total, the test command."""
import json
import re
from pathlib import Path

import pytest

from components import docker_common, settings as lab_settings
from tests.unit.harness import leaks, run_program

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def readme_config_rows() -> dict[str, tuple[str, str, str]]:
    section = README.split("<!-- config-table", 1)[1]
    rows = {}
    for line in section.splitlines()[1:]:
        if not line.startswith("| `"):
            if rows:
                break
            continue
        key, default, secret, description = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows[key.strip("`")] = (default.strip("`"), secret, description)
    return rows


def test_readme_config_table_equals_pulumi_yaml_declarations_and_the_optional_secrets():
    declared = {key: (str(d.get("default", "—")), "yes" if d.get("secret") else "no", d["description"])
                for key, d in lab_settings.declarations().items()}
    optional = {key: ("—", "yes", description) for key, description in lab_settings.OPTIONAL_SECRETS.items()}
    assert not set(declared) & set(optional)
    assert readme_config_rows() == {**declared, **optional}


@pytest.mark.parametrize("key", sorted(lab_settings.declarations()))
def test_every_declared_key_is_validated_by_the_program(key):
    """Read and checked: an invalid value stops the program before any resource, naming the key."""
    with pytest.raises(lab_settings.ConfigError, match=f"credit-lab:{key} = "):
        run_program(config={key: "not valid!"})


# Secrets that only work with another one set (the program refuses them alone).
NEEDS = {"ddAppKey": {"ddApiKey": "companion-api-key-0123456789"},
         "workloadRegistryPassword": {"workloadRegistry": "registry.example.com/lab"}}


@pytest.mark.parametrize("key", sorted(lab_settings.OPTIONAL_SECRETS))
def test_every_optional_secret_reaches_a_resource_as_a_secret(key):
    marker = f"marker-{key}-0123456789"
    run = run_program(secret={**NEEDS.get(key, {}), key: marker})
    found = [r.urn for r in run.resources if marker in json.dumps(r.inputs)]
    assert found, f"{key} set, but no resource receives it"
    assert not [r.urn for r in run.resources if leaks(r.raw, marker)], f"{key} reaches a resource in clear"


def test_readme_states_the_memory_total():
    assert f"**{docker_common.total_memory_mb()} MB**" in README


def test_ci_runs_the_readme_test_command():
    command = re.search(r"<!-- test-command -->\n```bash\n(.+)\n```", README).group(1)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci, ".ci/run must take its test command from README"
    assert command.startswith("python -m pytest")


def test_readme_alerts_table_follows_the_definitions():
    """One row per alert, in order: its name, the Datadog metric(s) or none, its numbers, how to trigger it."""
    from components import alerts
    from components.render import datadog_monitors
    section = README.split("<!-- alerts-table", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows and len(rows) == len(alerts.ALERTS), rows
    monitors = datadog_monitors.database_monitors("lab", "s", "app.datadoghq.com", "agent-host")
    for alert, row in zip(alerts.ALERTS, rows):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == f"`{alert.name}`", row
        numbers = alert.substitutions()
        assert cells[2].startswith(f"{numbers['threshold']}, for {numbers['for']}"), row
        assert cells[3] == alert.scenario, row
        if not alert.datadog:
            assert cells[1].startswith("—"), row
            continue
        # Every monitor that stands for the alert (PostgresDown has two).
        query = "\n".join(m.query for m in monitors if f"alert:{alert.name}" in m.tags)
        named = re.findall(r"`([a-z_.]+)`", cells[1])
        assert named and all(name in query for name in named), (row, query)
    slo = alerts.SERVICE_SLO
    assert (f"p95 latency above {slo.p95_latency_s:g} s, errors\n  above {slo.error_rate:.0%} of operations, "
            f"over {slo.window_s // 60} minutes") in README
