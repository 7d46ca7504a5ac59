"""A file a container gets before it starts: what the renderers produce and the components upload.

Pure data (no pulumi import): the components turn it into pulumi-docker's ContainerUploadArgs and
the integration tests lay the same files out the way the provider and Docker would.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

READABLE = 0o644
EXECUTABLE = 0o755


@dataclass(frozen=True)
class Upload:
    path: str
    """Absolute path inside the container; missing parent folders are created."""
    content: str
    """UTF-8 text."""
    mode: int = READABLE
    """File mode, always given explicitly: without it the provider writes 0644, or 0744 with
    `executable` (owner-only execute, useless to a server that steps down from root)."""


def readable(files: Mapping[str, str]) -> list[Upload]:
    """Plain files (path -> content), readable by every user of the image."""
    return [Upload(path, content) for path, content in sorted(files.items())]


def by_path(uploads: Iterable[Upload]) -> dict[str, str]:
    return {u.path: u.content for u in uploads}
