"""How pulumi-docker (the bridged kreuzwerker/terraform-provider-docker) and the Docker daemon
write a container's `uploads`: the model the integration tests lay files out with.

Sources (tests/CONTRACTS.md, rows "upload mode", "upload owner", "upload parents"):
- terraform-provider-docker `internal/provider/resource_docker_container_funcs.go`, the upload
  loop: each upload is one tar entry; mode 0644, 0744 when `executable` ("user executable
  permission"), the octal `permissions` when given (it takes precedence); owner and group 0
  unless `owner`/`group` are given; sent with CopyToContainer.
- moby `pkg/archive` (Unpack/createTarFile): a missing parent folder of an entry is created 0755,
  owned by root; the entry's own mode and owner are applied as the tar header says.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

PLAIN_MODE = 0o644
EXECUTABLE_MODE = 0o744
PARENT_MODE = 0o755


def mode_of(upload: Mapping) -> int:
    """The mode the provider gives one upload block (file, content, executable, permissions)."""
    permissions = upload.get("permissions")
    if permissions:
        return int(permissions, 8)
    return EXECUTABLE_MODE if upload.get("executable") else PLAIN_MODE


def owner_of(upload: Mapping) -> tuple[int, int]:
    """Owner and group of an upload: numeric `owner`/`group` when given, else root."""
    return int(upload.get("owner") or 0), int(upload.get("group") or 0)


def lay_uploads(rootfs: Path, uploads: Iterable[Mapping]) -> list[Path]:
    """Write each upload under `rootfs` exactly as the daemon would: its mode, its owner, parents
    created 0755 root. Nothing else is changed (no chmod or chown a real container would not get)."""
    written = []
    for upload in uploads:
        target = Path(rootfs) / upload["file"].lstrip("/")
        missing = [p for p in reversed(target.parents) if not p.exists()]
        for folder in missing:
            folder.mkdir()
            os.chown(folder, 0, 0)
            os.chmod(folder, PARENT_MODE)
        target.write_text(upload["content"])
        os.chown(target, *owner_of(upload))
        os.chmod(target, mode_of(upload))
        written.append(target)
    return written
