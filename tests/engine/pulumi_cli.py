"""What the Pulumi CLI checks between Pulumi.yaml and a stack's Pulumi.<stack>.yaml before it runs
the program. Mocks skip it; a real preview checks it, but not with README's Datadog keys set (the
datadog provider cannot be built here). `pulumi config set` itself is the real CLI's
(integration/test_readme_commands.py).

Source: pulumi/pulumi `pkg/workspace/config.go` (v3.254+; `sdk/go/common/workspace/config.go`
before), `mergeConfig` / `ValidateStackConfigAndApplyProjectConfig`, and
`sdk/go/common/workspace/project.go` (`Project.Validate`, `ValidateConfigValue`). Read at
v3.200.0 and v3.259.0. The rules, in the CLI's words:
- a project key (no namespace, or `<project>:`) declared with neither `default` nor `value` and not
  set on the stack: "Stack '<stack>' is missing configuration value(s) '<key>'";
- a typed key declared `secret: true` set in plain: "... must be encrypted as it's secret";
- a typed key's stack value of the wrong type: "... must be of type '<type>'" (values are strings:
  integer = strconv.Atoi, boolean = "true"/"false", string = anything);
- in Pulumi.yaml: a typed default of the wrong type, `default` and `value` together, and a key of
  another namespace with a type or a default are errors;
- keys on the stack that the project does not declare are neither refused nor warned about.
"""
from __future__ import annotations

import re

import yaml


class Secure(str):
    """A value `pulumi config set --secret` stored encrypted (`secure: ...` in the stack file)."""


def _full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _type_ok(kind: str, value: str) -> bool:
    if kind == "integer":
        return re.fullmatch(r"[+-]?\d+", value) is not None
    if kind == "boolean":
        return value in ("true", "false")
    return True


def project_errors(project: dict) -> list[str]:
    """Project.Validate's config rules."""
    name, errors = project["name"], []
    for key, decl in (project.get("config") or {}).items():
        decl = decl if isinstance(decl, dict) else {"default": decl}
        own = ":" not in key or key.startswith(f"{name}:")
        if not own and ("type" in decl or "default" in decl):
            errors.append(f"Configuration key '{key}' is not namespaced by the project and should not "
                          "define a type or a default")
        if "default" in decl and "value" in decl:
            errors.append(f"Configuration key '{key}' has both a default and a value")
        if "type" in decl and "default" in decl and not _type_ok(decl["type"], _as_string(decl["default"])):
            errors.append(f"The default value specified for configuration key '{key}' is not of the "
                          f"expected type '{decl['type']}'")
    return errors


def _as_string(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stack_config(text: str | None) -> dict:
    """A Pulumi.<stack>.yaml's `config:` (None: a stack created without a file yet)."""
    document = yaml.safe_load(text) if text else {}
    values = {}
    for key, value in ((document or {}).get("config") or {}).items():
        values[key] = Secure("<encrypted>") if isinstance(value, dict) and "secure" in value else _as_string(value)
    return values


def stack_errors(project: dict, stack: str, config: dict) -> list[str]:
    """mergeConfig(validate=true): the errors `pulumi up` stops with, before the program runs."""
    name = project["name"]
    errors, missing = [], []
    set_keys = {_full_key(k, name): v for k, v in config.items()}
    for key, decl in (project.get("config") or {}).items():
        decl = decl if isinstance(decl, dict) else {"default": decl}
        full = _full_key(key, name)
        own = full.startswith(f"{name}:")
        value = set_keys.get(full)
        if value is None:
            if own and "default" not in decl and "value" not in decl:
                missing.append(full.split(":", 1)[1])
            continue
        if "type" in decl:
            if decl.get("secret") and not isinstance(value, Secure):
                errors.append(f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret")
            if not isinstance(value, Secure) and not _type_ok(decl["type"], value):
                errors.append(f"Stack '{stack}' with configuration key '{key}' must be of type '{decl['type']}'")
    if missing:
        quoted = " and ".join(f"'{k}'" for k in missing)
        errors.insert(0, f"Stack '{stack}' is missing configuration value{'s' if len(missing) > 1 else ''} {quoted}")
    return errors
