"""Stack config, read once, validated, returned as one typed object.

Defaults come from the declarations in Pulumi.yaml (one place): the engine applies them on
`pulumi up`, and this module applies the same ones where the engine does not (unit tests run
under mocks). Every bad value is reported at once, before any resource is declared, in one
`pulumi.RunError` (no traceback) naming the key, the value and what is allowed.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pulumi
import yaml

from components import versions
from components.render import prometheus as prometheus_render
from workload.credit_workload import settings as workload_settings

PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"

# Datadog sites and the host of their web app (DBM links are built from it).
DD_SITES = {
    "datadoghq.com": "app.datadoghq.com",
    "us3.datadoghq.com": "us3.datadoghq.com",
    "us5.datadoghq.com": "us5.datadoghq.com",
    "datadoghq.eu": "app.datadoghq.eu",
    "ap1.datadoghq.com": "ap1.datadoghq.com",
    "ap2.datadoghq.com": "ap2.datadoghq.com",
    "ddog-gov.com": "app.ddog-gov.com",
}
# Optional secrets: documented here, NOT declared in Pulumi.yaml. The Pulumi CLI treats a declared
# key with neither `default` nor `value` as required ("Stack 'dev' is missing configuration
# value(s)", pulumi/pulumi pkg/workspace/config.go, mergeConfig), and a secret has no default; an
# undeclared key is read like any other (`pulumi config set --secret KEY VALUE`).
OPTIONAL_SECRETS = {
    "ddApiKey": "Datadog API key. Unset runs the lab without the Datadog Agent.",
    "ddAppKey": "Datadog application key. With ddApiKey, the lab's Datadog monitors and dashboard are declared too.",
    "postgresPassword": "Password of the PostgreSQL superuser `postgres`. Generated when unset.",
    "workloadPassword": "Password of the workload's role `credit_app`. Generated when unset.",
    "datadogPassword": "Password of the Agent's role `datadog`. Generated when unset.",
    "exporterPassword": "Password of the exporter's role `postgres_exporter`. Generated when unset.",
    "grafanaAdminPassword": "Password of Grafana's `admin` user. Generated when unset.",
    "workloadRegistryPassword": "Password or token for workloadRegistry's push.",
}
PORT_KEYS = ("postgresPort", "exporterPort", "prometheusPort", "grafanaPort")
SEED_RANGE = (1_000, 2_000_000)
# Scrape intervals below 1s overload the exporter; above 5m Prometheus marks series stale between scrapes.
SCRAPE_RANGE_SECONDS = (1, 300)


class ConfigError(pulumi.RunError):
    """Bad stack config. A RunError prints as a plain `error:` line, without a traceback."""


def declarations() -> dict:
    """The `config:` declarations of Pulumi.yaml: key -> {type, default, description, secret}."""
    return yaml.safe_load(PROJECT_FILE.read_text())["config"]


@dataclass(frozen=True)
class Images:
    """Image references, each an exact tag inside its supported line (components/versions.py)."""
    postgres: versions.ImageVersion
    datadog_agent: versions.ImageVersion
    exporter: versions.ImageVersion
    prometheus: versions.ImageVersion
    grafana: versions.ImageVersion


# Image config keys, in the order of Images' fields (versions.LINES lists them in that order).
IMAGE_KEYS = tuple(versions.LINES)


@dataclass(frozen=True)
class Ports:
    """Host ports, published on `Settings.bind_address`."""
    postgres: int
    exporter: int
    prometheus: int
    grafana: int


@dataclass(frozen=True)
class Secrets:
    """Secret config values; None where unset (the Credentials component then generates one)."""
    dd_api_key: Optional[pulumi.Output[str]]
    dd_app_key: Optional[pulumi.Output[str]]
    postgres: Optional[pulumi.Output[str]]
    workload: Optional[pulumi.Output[str]]
    datadog: Optional[pulumi.Output[str]]
    exporter: Optional[pulumi.Output[str]]
    grafana_admin: Optional[pulumi.Output[str]]


@dataclass(frozen=True)
class Workload:
    """The workload's knobs, already validated by the workload's own rules."""
    rate: str
    services: tuple
    scenario: str


@dataclass(frozen=True)
class WorkloadImage:
    """Where the workload's image comes from."""
    reference: str
    """An image the user built and loaded (kind load, a registry); "" to build it during `up`."""
    registry: str
    """Push the built image there ("registry/path"); "" to keep it in the local image store."""
    username: str
    password: Optional[pulumi.Output[str]]


@dataclass(frozen=True)
class Kubernetes:
    """The Kubernetes platform's settings (components/platforms/kubernetes.py)."""
    namespace: str
    storage_class: str
    service_type: str
    node_address: str


PLATFORMS = ("docker", "kubernetes")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")


@dataclass(frozen=True)
class Settings:
    """Everything the program needs from config, validated."""
    project: str
    stack: str
    dd_site: str
    dd_env: str
    bind_address: str
    ports: Ports
    scrape_interval: str
    seed_customers: int
    images: Images
    workload: Workload
    secrets: Secrets
    platform: str
    kubernetes: Kubernetes
    workload_image: WorkloadImage

    @property
    def prefix(self) -> str:
        """Prefix of container and volume names: two stacks can share one Docker host."""
        return f"{self.project}-{self.stack}"

    @property
    def datadog_enabled(self) -> bool:
        return self.secrets.dd_api_key is not None

    @property
    def datadog_monitors_enabled(self) -> bool:
        """Monitors and dashboard need both keys (the API's writes take the application key)."""
        return self.datadog_enabled and self.secrets.dd_app_key is not None

    @property
    def dd_app_host(self) -> str:
        return DD_SITES[self.dd_site]

    @property
    def browse_host(self) -> str:
        """Host for the URLs we print: the bind address, or localhost when it binds every interface."""
        address = ipaddress.ip_address(self.bind_address)
        if address.is_unspecified:
            return "localhost"
        return f"[{address}]" if address.version == 6 else str(address)


class _Reader:
    """Reads raw config values and collects every problem instead of stopping at the first."""

    def __init__(self, config: pulumi.Config):
        self.config = config
        self.decls = declarations()
        self.problems: list[str] = []

    def raw(self, key: str) -> str:
        if key not in self.decls:
            raise KeyError(f"{key} is not declared in Pulumi.yaml")
        value = self.config.get(key)
        default = self.decls[key].get("default")
        return str(value if value is not None else default).strip()

    def check(self, key: str, value: str, ok: bool, allowed: str):
        if not ok:
            self.problems.append(f"{self.config.name}:{key} = {value!r} is invalid: {allowed}")
        return ok

    def integer(self, key: str, lo: int, hi: int) -> int:
        value = self.raw(key)
        ok = re.fullmatch(r"\d+", value) is not None and lo <= int(value) <= hi
        self.check(key, value, ok, f"expected a whole number from {lo} to {hi}")
        return int(value) if ok else lo

    def choice(self, key: str, allowed: Callable[[str], bool] | tuple, what: str) -> str:
        value = self.raw(key)
        ok = value in allowed if isinstance(allowed, tuple) else allowed(value)
        self.check(key, value, ok, what)
        return value

    def image(self, key: str) -> Optional[versions.ImageVersion]:
        value = self.raw(key)
        try:
            return versions.parse(key, value)
        except versions.UnsupportedImage as exc:
            self.check(key, value, False, exc.allowed)
            return None

    def secret(self, key: str) -> Optional[pulumi.Output[str]]:
        if key not in OPTIONAL_SECRETS:
            raise KeyError(f"{key} is not an optional secret (OPTIONAL_SECRETS)")
        return self.config.get_secret(key)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _scrape_interval_ok(value: str) -> bool:
    """A Prometheus duration (the renderer's grammar) within SCRAPE_RANGE_SECONDS."""
    seconds = prometheus_render.duration_seconds(value)
    return seconds is not None and SCRAPE_RANGE_SECONDS[0] <= seconds <= SCRAPE_RANGE_SECONDS[1]


# Stack config key -> the workload's env variable it becomes.
WORKLOAD_KEYS = {"workloadRate": workload_settings.ENV_RATE, "workloadServices": workload_settings.ENV_SERVICES,
                 "workloadScenario": workload_settings.ENV_SCENARIO}


def _workload(reader: _Reader) -> Workload:
    """Validate the workload knobs with the workload's own parser: the rules its container applies.
    Each knob alone first, so an error names its key; then all together, normalised."""
    env = {}
    for key, var in WORKLOAD_KEYS.items():
        env[var] = reader.raw(key)
        try:
            workload_settings.parse({var: env[var]})
        except workload_settings.SettingsError as exc:
            reader.check(key, env[var], False, exc.allowed)
    if reader.problems:
        return Workload(rate=env[workload_settings.ENV_RATE], services=(), scenario="")  # load() raises
    parsed = workload_settings.parse(env)
    return Workload(rate=env[workload_settings.ENV_RATE], services=parsed.services, scenario=parsed.scenario)


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
# An image reference: [registry[:port]/]path[:tag][@sha256:digest] (distribution/reference's grammar, loosely).
_IMAGE_REFERENCE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
                              r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?")
_REGISTRY = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*")


def _kubernetes(reader: _Reader, project: str, stack: str) -> Kubernetes:
    from components import docker_common   # the stack's name as a DNS label, as Docker's names use it
    namespace = reader.choice("namespace", lambda v: v == "" or _DNS_LABEL.fullmatch(v) is not None,
                              "expected a DNS label (lowercase letters, digits, -; at most 63), or empty")
    return Kubernetes(
        namespace=namespace or docker_common.dns_label(f"{project}-{stack}"),
        storage_class=reader.choice("storageClass", lambda v: v == "" or _DNS_SUBDOMAIN.fullmatch(v) is not None,
                                    "expected a StorageClass name (a DNS subdomain), or empty for the cluster's default"),
        service_type=reader.choice("serviceType", SERVICE_TYPES, f"expected one of {', '.join(SERVICE_TYPES)}"),
        node_address=reader.choice("nodeAddress", lambda v: _is_ip(v) or _DNS_SUBDOMAIN.fullmatch(v) is not None,
                                   "expected an IP address or a host name"))


def _workload_image(reader: _Reader) -> WorkloadImage:
    return WorkloadImage(
        reference=reader.choice("workloadImage", lambda v: v == "" or _IMAGE_REFERENCE.fullmatch(v) is not None,
                                "expected an image reference such as credit-lab-workload:1.0.0, or empty"),
        registry=reader.choice("workloadRegistry", lambda v: v == "" or _REGISTRY.fullmatch(v) is not None,
                               "expected a registry and path such as ghcr.io/you, or empty"),
        username=reader.choice("workloadRegistryUsername", lambda v: re.fullmatch(r"\S*", v) is not None,
                               "expected a user name without spaces, or empty"),
        password=reader.secret("workloadRegistryPassword"))


def load(config: Optional[pulumi.Config] = None) -> Settings:
    """Read and validate the stack's config; raise ConfigError listing every bad value."""
    config = config or pulumi.Config()
    reader = _Reader(config)

    ports = Ports(**{key[: -len("Port")]: reader.integer(key, 1, 65535) for key in PORT_KEYS})
    values = [getattr(ports, f) for f in ("postgres", "exporter", "prometheus", "grafana")]
    for key, port in zip(PORT_KEYS, values):
        if values.count(port) > 1:
            others = [k for k, p in zip(PORT_KEYS, values) if p == port and k != key]
            reader.check(key, str(port), False, f"port already used by {', '.join(others)}; each port must differ")

    images = Images(*(reader.image(key) for key in IMAGE_KEYS))

    settings = Settings(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        dd_site=reader.choice("ddSite", tuple(DD_SITES), f"expected one of {', '.join(DD_SITES)}"),
        dd_env=reader.choice("ddEnv", lambda v: re.fullmatch(r"[a-z][a-z0-9_.-]{0,99}", v) is not None,
                             "expected a Datadog tag value: lowercase letter first, then a-z 0-9 _ . -"),
        bind_address=reader.choice("bindAddress", _is_ip, "expected an IPv4 or IPv6 address such as 127.0.0.1"),
        ports=ports,
        scrape_interval=reader.choice(
            "scrapeInterval", _scrape_interval_ok,
            f"expected a Prometheus duration from {SCRAPE_RANGE_SECONDS[0]}s to {SCRAPE_RANGE_SECONDS[1] // 60}m, "
            "e.g. 10s, 30s, 1m"),
        seed_customers=reader.integer("seedCustomers", *SEED_RANGE),
        images=images,
        workload=_workload(reader),
        secrets=Secrets(
            dd_api_key=reader.secret("ddApiKey"),
            dd_app_key=reader.secret("ddAppKey"),
            postgres=reader.secret("postgresPassword"),
            workload=reader.secret("workloadPassword"),
            datadog=reader.secret("datadogPassword"),
            exporter=reader.secret("exporterPassword"),
            grafana_admin=reader.secret("grafanaAdminPassword"),
        ),
        platform=reader.choice("platform", PLATFORMS, f"expected one of {', '.join(PLATFORMS)}"),
        kubernetes=_kubernetes(reader, pulumi.get_project(), pulumi.get_stack()),
        workload_image=_workload_image(reader),
    )
    # The value is a secret: the message says only that it is set.
    reader.check("ddAppKey", "(set)", settings.secrets.dd_app_key is None or settings.datadog_enabled,
                 "the monitors and dashboard it declares need ddApiKey too "
                 "(pulumi config set --secret ddApiKey ...), or remove it (pulumi config rm ddAppKey)")
    reader.check("workloadRegistry", settings.workload_image.registry,
                 not (settings.workload_image.registry and settings.workload_image.reference),
                 "a registry to push a built image to, which workloadImage (an image you provide) leaves unbuilt: "
                 "set one of them")
    if reader.problems:
        raise ConfigError("invalid stack config:\n  " + "\n  ".join(reader.problems))
    return settings
