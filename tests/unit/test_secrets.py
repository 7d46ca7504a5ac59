"""Every secret stays a Pulumi secret end to end: in every input that carries it, and in outputs."""
import pytest

from components import topology
from components.render import datadog as datadog_render
from tests.unit.conftest import API_KEY, SET_PASSWORDS
from tests.unit.harness import generated_password, leaks


def generated_passwords(run):
    return {r.name: r for r in run.of_type("random:index/randomPassword:RandomPassword")}


def test_unset_passwords_are_generated_by_the_random_provider(default_run):
    generated = generated_passwords(default_run)
    assert set(generated) == {"credentials-postgres", "credentials-credit-app", "credentials-datadog",
                              "credentials-postgres-exporter", "credentials-grafana-admin"}
    for resource in generated.values():
        assert resource.inputs["length"] >= 24 and resource.inputs["special"] is False, resource.urn


def test_configured_passwords_replace_generated_ones(custom_run):
    assert generated_passwords(custom_run) == {}


def secret_values(run, configured):
    """The plaintexts a run must keep secret: configured secrets and the mocks' generated passwords."""
    return list(configured) + [generated_password(name) for name in generated_passwords(run)]


@pytest.mark.parametrize("fixture,configured", [
    ("default_run", []),
    ("datadog_run", [API_KEY]),
    ("custom_run", [API_KEY, *SET_PASSWORDS.values()]),
])
def test_no_secret_outside_a_secret_wrapper(request, fixture, configured):
    run = request.getfixturevalue(fixture)
    for plaintext in secret_values(run, configured):
        seen_anywhere = False
        for resource in run.resources:
            if plaintext in str(resource.inputs):
                seen_anywhere = True
            found = leaks(resource.raw, plaintext)
            assert not found, f"{resource.urn}: secret in clear at {found}"
        if plaintext != API_KEY or fixture != "default_run":
            assert seen_anywhere, f"secret {plaintext[:4]}… is never used: the test would pass vacuously"


def env_of(container):
    return dict(entry.split("=", 1) for entry in container.inputs.get("envs", []))


@pytest.mark.parametrize("role", list(topology.PASSWORD_ENV))
def test_postgres_gets_each_password_only_by_env(custom_run, role):
    postgres = custom_run.containers()["postgres-container"]
    variable = topology.PASSWORD_ENV[role]
    expected = {topology.SUPERUSER: "postgresPassword", topology.WORKLOAD_ROLE: "workloadPassword",
                topology.DATADOG_ROLE: "datadogPassword", topology.EXPORTER_ROLE: "exporterPassword"}[role]
    assert env_of(postgres)[variable] == SET_PASSWORDS[expected], postgres.urn
    others = {k: v for k, v in postgres.inputs.items() if k != "envs"}
    assert SET_PASSWORDS[expected] not in str(others), f"{postgres.urn}: password outside envs"


def test_each_client_gets_its_own_password(custom_run):
    containers = custom_run.containers()
    assert env_of(containers["workload-container"])["PGPASSWORD"] == SET_PASSWORDS["workloadPassword"]
    assert env_of(containers["postgres-exporter-container"])["DATA_SOURCE_PASS"] == SET_PASSWORDS["exporterPassword"]
    assert env_of(containers["datadog-agent-container"])[datadog_render.POSTGRES_PASSWORD_ENV] == \
        SET_PASSWORDS["datadogPassword"]
    assert env_of(containers["grafana-container"])["GF_SECURITY_ADMIN_PASSWORD"] == \
        SET_PASSWORDS["grafanaAdminPassword"]
    superuser = SET_PASSWORDS["postgresPassword"]
    for name, container in containers.items():
        if name != "postgres-container":
            assert superuser not in str(container.inputs), f"{container.urn} holds the superuser password"


def test_secret_outputs_are_secret(custom_run):
    outputs = custom_run.outputs
    assert outputs["postgresDsn"].secret and outputs["grafanaAdminPassword"].secret
    assert outputs["grafanaAdminPassword"].value == SET_PASSWORDS["grafanaAdminPassword"]
    assert SET_PASSWORDS["postgresPassword"] in outputs["postgresDsn"].value
    for name, output in outputs.items():
        if not output.secret:
            for plaintext in [API_KEY, *SET_PASSWORDS.values()]:
                assert plaintext not in str(output.value), f"output {name} holds a secret in clear"
