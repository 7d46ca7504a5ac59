"""How the real docker provider plans: its Check (what it adds to the program's inputs) and its Diff
(what changed, and whether that replaces), as pure functions of the inputs and the stored state.
The stand-in (provider_plugin.py) answers the engine with them; the unit tests call them directly.

Two providers in one plugin, as in pulumi-docker 5.x:
- the Terraform-bridged resources (Container, Network, Volume, RemoteImage): the bridge's Check
  writes each schema default into the inputs, and its Diff is Terraform's plan of the program's
  inputs against the **state**, which the provider's Read filled from Docker after create (and on
  refresh). For each property (docker_schema.py): set in the program and different from the state,
  a change; left out, no change when the provider computes it or the state holds nothing, else a
  removal; a change of a ForceNew property replaces (pulumi-terraform-bridge `pkg/tfbridge/provider.go`
  Diff 1118-1306: replaces are the detailed diff's *_REPLACE kinds; DeleteBeforeReplace from
  pulumi-docker `provider/resources.go` docker_container).
- the native `docker.Image` (pulumi-docker `provider/provider.go`): Check 128-269 adds
  `buildOnPreview`, the build's `context`/`dockerfile` defaults, `contextDigest` (a hash of every file
  of the context that .dockerignore keeps, `hashContext` 606-649, `hashPath` 553-595) and the host `platform`; Diff
  271-327 compares the old inputs (kept in the state's `__inputs`) with the new ones and reports an
  in-place update (a rebuild) for each changed key, never a replacement.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from tests.engine.docker_schema import SCHEMAS, Field

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"   # the engine's marker of a value not known yet
CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/image:Image"


class CheckFailure(Exception):
    """What the provider's Check rejects."""


@dataclass
class Plan:
    changes: dict[str, str]     # property path -> "add" | "update" | "delete", "-replace" when ForceNew
    replaces: list[str]         # top-level properties whose change replaces the resource
    delete_before_replace: bool


def is_zero(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False or value == [] or value == {}


def has_unknown(value: Any) -> bool:
    return UNKNOWN in json.dumps(value)


# ---- Check ---------------------------------------------------------------------------------------
def _with_defaults(fields: Mapping[str, Field], values: Mapping) -> dict:
    filled = dict(values)
    for name, f in fields.items():
        if filled.get(name) is None and f.default is not None:
            filled[name] = f.default
        elif f.nested and isinstance(filled.get(name), dict):
            filled[name] = _with_defaults(f.nested, filled[name])
        elif f.nested and isinstance(filled.get(name), list):
            filled[name] = [_with_defaults(f.nested, v) if isinstance(v, dict) else v for v in filled[name]]
    return filled


def check_bridged(type_token: str, news: Mapping) -> dict:
    """The bridge's Check: the schema's defaults written into the inputs; a property the schema does
    not have is refused (MakeTerraformInputs)."""
    schema = SCHEMAS[type_token]
    unknown = sorted(set(news) - set(schema))
    if unknown:
        raise CheckFailure(f"{type_token}: properties {unknown} are not in the provider's schema")
    return _with_defaults(schema, news)


def go_arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def check_image(news: Mapping, project_dir: Path) -> dict:
    """pulumi-docker provider.go Check 128-269, for a build from a local context with skip_push."""
    inputs = json.loads(json.dumps(news))
    inputs["buildOnPreview"] = bool(inputs.get("buildOnPreview") or False) if not has_unknown(
        inputs.get("buildOnPreview")) else False
    build = dict(inputs.get("build") or {})
    if not has_unknown(build.get("context")):
        build["context"] = build.get("context") or "."
    if not has_unknown(build.get("dockerfile")) and not has_unknown(build.get("context")):
        # path.Join(context, "Dockerfile"), which cleans the path ("./workload" -> "workload/Dockerfile")
        build["dockerfile"] = build.get("dockerfile") or str(PurePosixPath(os.path.normpath(
            str(PurePosixPath(build["context"]) / "Dockerfile"))))
        dockerfile = project_dir / build["dockerfile"]
        if not dockerfile.is_file():
            raise CheckFailure(f"could not open dockerfile at relative path {build['dockerfile']!r}")
        build["contextDigest"] = context_digest(project_dir / build["context"], dockerfile)
    build.setdefault("platform", f"linux/{go_arch()}")
    inputs["build"] = build
    return inputs


# ---- the build context's digest (provider.go hashContext, getIgnorePatterns) ----------------------
def ignore_patterns(context: Path, dockerfile: Path) -> list[str]:
    """<Dockerfile>.dockerignore if present, else the context's .dockerignore (ignorefile.ReadAll:
    comments and blank lines dropped, each pattern cleaned)."""
    for candidate in (Path(f"{dockerfile}.dockerignore"), context / ".dockerignore"):
        if candidate.is_file():
            patterns = []
            for line in candidate.read_text().splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("!"):
                    raise CheckFailure(f"{candidate}: exception patterns ('!') are not modelled by the stand-in")
                patterns.append(os.path.normpath(line.lstrip("/")))
            return patterns
    return []


def _pattern_regex(pattern: str) -> re.Pattern:
    """moby/patternmatcher: `**` any number of path segments, `*` and `?` within one segment."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def excluded(relative: str, patterns: list[str]) -> bool:
    """A path is excluded when a pattern matches it or one of its parent folders."""
    regexes = [_pattern_regex(p) for p in patterns]
    parts = relative.split("/")
    return any(r.match("/".join(parts[:n])) for r in regexes for n in range(1, len(parts) + 1))


def _go_mode_string(mode: int) -> str:
    """Go's fs.FileMode.String() for a regular file, a symlink or mode 0."""
    kind = "L" if stat.S_ISLNK(mode) else "-"
    return kind + stat.filemode(mode)[1:] if mode else "----------"


def _hash_entry(path: Path, name: str, mode: int) -> bytes:
    content = hashlib.sha256()
    if stat.S_ISLNK(mode):
        content.update(os.path.normpath(os.path.realpath(path)).encode())
    elif stat.S_ISREG(mode) or mode == 0:
        content.update(path.read_bytes())
    return os.path.normpath(name).encode() + _go_mode_string(mode).encode() + content.digest() + b"\0"


def context_digest(context: Path, dockerfile: Path) -> str:
    """hashContext: the Dockerfile under the name "Dockerfile" (mode 0), then every file fsutil.Walk
    finds in the context (lexical order, excluded ones skipped) by relative name, mode and content."""
    patterns = ignore_patterns(context, dockerfile)
    accumulated = bytearray(_hash_entry(dockerfile, "Dockerfile", 0))

    def walk(folder: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            relative = f"{prefix}{entry.name}"
            if excluded(relative, patterns):
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), relative + "/")
            else:
                accumulated.extend(_hash_entry(Path(entry.path), relative, os.lstat(entry.path).st_mode))
    walk(context, "")
    return hashlib.sha256(bytes(accumulated)).hexdigest()


# ---- Diff ----------------------------------------------------------------------------------------
def _canonical(f: Field, value: Any) -> Any:
    if f.kind == "set":
        return sorted(json.dumps(v, sort_keys=True) for v in (value or []))
    if f.kind == "list":
        return list(value or [])
    if f.kind == "map":
        return dict(value or {})
    return value


def _ports_unchanged(old: list | None, new: list | None) -> bool:
    """suppressIfPortsDidNotChangeForMigrationV0ToV1 (resource_docker_container.go 1192-1247): the
    same number of ports, and each old one found by its internal port with the same protocol,
    external port and ip."""
    old, new = old or [], new or []
    if len(old) != len(new):
        return False
    for before in old:
        after = next((p for p in new if p.get("internal") == before.get("internal")), None)
        if after is None or any(after.get(k) != before.get(k) for k in ("protocol", "external", "ip")):
            return False
    return True


def diff_bridged(type_token: str, olds: Mapping, news: Mapping) -> Plan:
    """Terraform's plan of the checked inputs `news` against the state `olds`, as the bridge reports it."""
    schema = SCHEMAS[type_token]
    changes: dict[str, str] = {}
    for name, f in schema.items():
        new, old = news.get(name), olds.get(name)
        if new is not None and has_unknown(new):
            changes[name] = "update"
        elif new is None or (f.suppress_empty and new == ""):
            if f.suppress_empty:       # the DiffSuppressFunc: unset ("") is Docker's default, no change
                continue
            if not f.computed and not is_zero(old):
                changes[name] = "delete"
            elif f.computed and f.kind == "list" and name not in olds:
                # Never read back (a create that failed before its Read): Terraform's diffList
                # plans the count as computed, a new value to come (schema.go diffList; seen on the
                # real provider as command and entrypoints ADD_REPLACE after a failed start).
                changes[name] = "add"
        elif f.kind == "block":
            before = old or {}
            for sub, sf in (f.nested or {}).items():
                after = new.get(sub, sf.default)
                if _canonical(sf, after) != _canonical(sf, before.get(sub)) and not (
                        is_zero(after) and is_zero(before.get(sub))):
                    changes[f"{name}.{sub}"] = "update" if old else "add"
        elif f.kind == "ports":
            if not _ports_unchanged(old, new):
                changes[name] = "update" if old else "add"
        elif _canonical(f, new) != _canonical(f, old) and not (is_zero(new) and is_zero(old)):
            changes[name] = "update" if old is not None else "add"
    marked = {path: kind + ("-replace" if schema[re.split(r"[.\[]", path)[0]].force_new else "")
              for path, kind in changes.items()}
    replaces = sorted({re.split(r"[.\[]", p)[0] for p, k in marked.items() if k.endswith("-replace")})
    return Plan(marked, replaces, delete_before_replace=bool(replaces) and type_token == CONTAINER)


def diff_image(old_inputs: Mapping, news: Mapping) -> Plan:
    """provider.go Diff 271-327: each changed top-level input is an in-place update (a rebuild)."""
    keys = sorted(k for k in set(old_inputs) | set(news)
                  if json.dumps(old_inputs.get(k), sort_keys=True) != json.dumps(news.get(k), sort_keys=True))
    changes = {k: "add" if k not in old_inputs else "delete" if k not in news else "update" for k in keys}
    return Plan(changes, [], False)


def planned_state(type_token: str, olds: Mapping, news: Mapping) -> dict:
    """The state an in-place update leaves (Terraform's planned state; the container's Update does
    not read back): the program's values, the computed ones kept, the removed ones gone."""
    schema = SCHEMAS[type_token]
    state = {k: v for k, v in olds.items() if k not in schema or schema[k].computed}
    state.update({k: v for k, v in news.items() if v is not None})
    return state
