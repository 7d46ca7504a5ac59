"""Bad input on the real Pulumi CLI (issue 18, item 7): a bad value of each kind stops `pulumi
preview` with the program's own message naming the key, the value and what is allowed, a
non-zero exit, no traceback, and no resource created. Real CLI, inline program (README, "Tests")."""
import pytest

from tests.integration import real_lab

BAD = [
    # (key, value, words of what is allowed)
    ("postgresPort", "70000", "1 to 65535"),
    ("workloadRate", "fast", "ops/s between"),
    ("workloadScenario", "chaos", "lock-contention"),
    ("postgresImage", "postgres:16.4-alpine", "PostgreSQL 15 on alpine"),
    ("seedCustomers", "10", "1000 to 2000000"),
    ("ddSite", "datadog.com", "datadoghq.eu"),
]


@pytest.mark.parametrize("key, value, allowed", BAD, ids=[f"{k}={v}" for k, v, _ in BAD])
def test_a_bad_value_stops_preview_naming_the_key_with_nothing_created(key, value, allowed):
    output, made = real_lab.preview_error({key: value})
    assert f"credit-lab:{key} = {value!r}" in output and allowed in output, output
    assert "Traceback" not in output, output
    assert made == real_lab.NOTHING, f"on the engine after a refused preview: {made}"


def test_the_cli_checks_a_typed_key_before_the_program_runs():
    """Pulumi.yaml types postgresPort as an integer: the CLI itself refuses a word there."""
    output, made = real_lab.preview_error({"postgresPort": "abc"})
    assert "postgresPort" in output and "Traceback" not in output, output
    assert "invalid stack config" not in output, "the program ran: the CLI did not check the type"
    assert made == real_lab.NOTHING, made
