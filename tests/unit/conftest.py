"""Stack runs shared by the unit tests: each configuration runs the real program once."""
import pytest

from tests.unit.harness import run_program

API_KEY = "dd-api-key-0123456789abcdef"
CUSTOM = {"bindAddress": "0.0.0.0", "postgresPort": "15432", "exporterPort": "19187",
          "prometheusPort": "19090", "grafanaPort": "13000", "scrapeInterval": "15s"}
SET_PASSWORDS = {"postgresPassword": "SuperSecretPg1", "workloadPassword": "SuperSecretApp2",
                 "datadogPassword": "SuperSecretDd3", "exporterPassword": "SuperSecretExp4",
                 "grafanaAdminPassword": "SuperSecretGf5"}


@pytest.fixture(scope="session")
def default_run():
    """Defaults, no Datadog key."""
    return run_program()


@pytest.fixture(scope="session")
def datadog_run():
    """Defaults plus a Datadog API key (secret), on datadoghq.eu."""
    return run_program(config={"ddSite": "datadoghq.eu"}, secret={"ddApiKey": API_KEY})


@pytest.fixture(scope="session")
def custom_run():
    """Custom ports and bind address, every password set in config."""
    return run_program(config=CUSTOM, secret={**SET_PASSWORDS, "ddApiKey": API_KEY})
