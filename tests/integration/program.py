"""What `pulumi up` would create each container with: the real __main__.py under Pulumi's mocks
(tests/unit/harness.py), read back as ContainerConfigs for tests/integration/containers.py. The integration
tests run containers from this, never from a second copy of a flag, a path or an env var.
"""
from __future__ import annotations

import functools
import json
from typing import Mapping

from tests.integration.containers import ContainerConfig, Volume
from tests.unit import harness


@functools.lru_cache(maxsize=16)
def _run(config_items: tuple, secret_items: tuple) -> harness.Run:
    return harness.run_program(config=dict(config_items), secret=dict(secret_items))


def stack(config: Mapping[str, str] | None = None, secret: Mapping[str, str] | None = None) -> harness.Run:
    """The program's registrations for this stack config (cached: the program is deterministic)."""
    return _run(tuple(sorted((config or {}).items())), tuple(sorted((secret or {}).items())))


def container_inputs(run: harness.Run, alias: str) -> dict:
    return run.containers()[f"{alias}-container"].inputs


def env_of(inputs: Mapping) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in inputs.get("envs", []))


def healthcheck_of(inputs: Mapping) -> list[str]:
    return list(inputs["healthcheck"]["tests"])


def container_config(run: harness.Run, alias: str, image: str, *,
                     env_overrides: Mapping[str, str | None] | None = None,
                     volumes: Mapping[str, Volume] | None = None,
                     may_add: frozenset = frozenset()) -> ContainerConfig:
    """The container `alias` as the program declares it. `env_overrides` may only change variables
    the program sets (None removes one), or add one of `may_add` (settings the image documents):
    a test shrinks a seed or drops a password, it never invents a setting. `volumes` maps the
    declared volume paths to this run's volumes."""
    inputs = container_inputs(run, alias)
    env = env_of(inputs)
    for key, value in (env_overrides or {}).items():
        if key not in env and key not in may_add:
            raise KeyError(f"{alias}: the program sets no {key} (it sets {sorted(env)})")
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    declared = {v["containerPath"] for v in inputs.get("volumes", []) if v.get("volumeName")}
    given = dict(volumes or {})
    if set(given) != declared:
        raise ValueError(f"{alias}: the program mounts volumes at {sorted(declared)}, the test gave {sorted(given)}")
    return ContainerConfig(
        alias=alias, image=image, entrypoint=inputs.get("entrypoints"), command=inputs.get("command"),
        env=env, uploads=inputs.get("uploads", []), volumes=given, declared=inputs)


def labels_of(inputs: Mapping) -> dict[str, object]:
    """Container labels, JSON values decoded."""
    found = {}
    for label in inputs.get("labels", []):
        try:
            found[label["label"]] = json.loads(label["value"])
        except ValueError:
            found[label["label"]] = label["value"]
    return found
