"""The image versions the lab supports, and what follows from a tag.

Each image's configuration here is written for one line of that image, and the integration tests
run exactly that line natively (PostgreSQL 15, postgres_exporter 0.17, Prometheus 2.53: shared
FACTS.md §1). A tag outside its line is refused before any resource is declared, with the key, the
value and what is supported; a tag inside it tells the renderers its version (Grafana's datasource
declares the Prometheus version the stack runs). Pulumi.yaml's descriptions state the same lines
(tests/unit/test_settings.py holds them equal).
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """A supported line of one image."""
    tag: str
    """The tag's grammar (a regex); groups `major`, `minor`, `patch` are the version."""
    supported: str
    """What is supported, as the config description and the error say it."""
    why: str
    """What in the lab depends on the line."""
    minimum: tuple[int, ...] = ()
    """The lowest version within the grammar, where the line has one."""


# Stack config key -> its image's line. Tag forms: docker-library/official-images `library/postgres`
# (15.N-alpine, 15.N-alpine3.M); DataDog/datadog-agent `.gitlab/deploy_containers/deploy_containers_a7.yml`
# (VERSION, then -linux or -servercore (Windows), then -jmx); grafana/grafana security releases are
# tagged X.Y.Z-security-NN on Docker (grafana#95136), and its -ubuntu flavour installs curl, not wget
# (grafana Dockerfile). Grafana's datasource `prometheusVersion` is a semver it compares against
# (packages/grafana-prometheus datasource.ts).
LINES = {
    "postgresImage": Line(
        tag=r"(?P<major>15)\.(?P<minor>\d+)-alpine(\d+\.\d+)?",
        supported="PostgreSQL 15 on alpine, tag 15.<minor>-alpine (e.g. postgres:15.18-alpine)",
        why="the init scripts and server flags are PostgreSQL 15's and the container's paths, user "
            "(uid 70) and entrypoint are the alpine image's"),
    "datadogAgentImage": Line(
        tag=r"(?P<major>7)\.(?P<minor>\d+)\.(?P<patch>\d+)(-linux)?(-jmx)?",
        supported="Agent 7.63 or newer, tag 7.<minor>.<patch> (e.g. gcr.io/datadoghq/agent:7.84.2)",
        why="the workload's ddtrace 4 sends to the Agent's APM intake, which needs 7.63 or newer "
            "(Datadog: Migrate to dd-trace-py v4); -servercore is the Windows image",
        minimum=(7, 63, 0)),
    "exporterImage": Line(
        tag=r"v(?P<major>0)\.(?P<minor>17)\.(?P<patch>\d+)",
        supported="postgres_exporter 0.17, tag v0.17.<patch> (e.g. v0.17.1)",
        why="the collector flags, the rules' and the dashboard's metric names are 0.17's, the "
            "version the tests run"),
    "prometheusImage": Line(
        tag=r"v(?P<major>2)\.(?P<minor>53)\.(?P<patch>\d+)",
        supported="Prometheus 2.53 (LTS), tag v2.53.<patch> (e.g. v2.53.3)",
        why="the config and rules are tested with Prometheus and promtool 2.53; 3.x changes "
            "the rule and scrape semantics"),
    "grafanaImage": Line(
        tag=r"(?P<major>12)\.(?P<minor>\d+)\.(?P<patch>\d+)(-security-\d+)?",
        supported="Grafana 12, tag 12.<minor>.<patch> (e.g. 12.2.1; not the -ubuntu flavour)",
        why="the provisioning files and dashboard model are Grafana 12's, and the healthcheck "
            "uses the default (Alpine) image's busybox wget"),
}


@dataclass(frozen=True)
class ImageVersion:
    """An image reference inside its supported line."""
    reference: str
    version: tuple[int, ...]

    @property
    def text(self) -> str:
        """The version as its project writes it, e.g. `2.53.3`."""
        return ".".join(str(part) for part in self.version)


class UnsupportedImage(ValueError):
    """The reference is outside its line; `allowed` says what is supported and why."""

    def __init__(self, key: str, reference: str, allowed: str):
        super().__init__(f"{key} = {reference!r}: {allowed}")
        self.key, self.reference, self.allowed = key, reference, allowed


def tag_of(reference: str) -> str | None:
    """The tag of `name[:tag]` (a registry port such as `host:5000/name` is not a tag)."""
    name = reference.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else None


def parse(key: str, reference: str) -> ImageVersion:
    """The version of `reference` for config key `key`; UnsupportedImage outside the line."""
    line = LINES[key]
    tag = tag_of(reference)
    match = re.fullmatch(line.tag, tag) if tag else None
    if not match or "@" in reference or not re.fullmatch(r"[a-z0-9][a-z0-9._/:-]*", reference.rsplit(":", 1)[0]):
        raise UnsupportedImage(key, reference, f"expected {line.supported}, because {line.why}")
    version = tuple(int(match[group]) for group in ("major", "minor", "patch") if match.groupdict().get(group))
    if version < line.minimum:
        raise UnsupportedImage(key, reference, f"expected {line.supported}, because {line.why}")
    return ImageVersion(reference, version)
