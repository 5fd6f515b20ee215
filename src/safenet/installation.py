"""This installation: where it keeps its own files, and which build of Safenet it is.

Everything that belongs to the installation rather than to a case (the audit signing key, the users, the
hash-set database, the record of method validation runs) lives in one data folder,
``$XDG_DATA_HOME/safenet`` (default ``~/.local/share/safenet``).
"""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path


def data_dir() -> Path:
    """The installation's data folder (not created here)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "safenet"


def build_digest() -> str:
    """SHA-256 over the installed Safenet package's files (path and bytes, in path order): which build wrote
    a report, beyond its version number (an edited installation shows a different digest)."""
    root = resources.files("safenet")
    digest = hashlib.sha256()
    files = sorted(
        (p for p in Path(str(root)).rglob("*") if p.is_file() and "__pycache__" not in p.parts),
        key=lambda p: p.relative_to(str(root)).as_posix(),
    )
    for path in files:
        name = path.relative_to(str(root)).as_posix().encode()
        digest.update(len(name).to_bytes(4, "big") + name)
        data = path.read_bytes()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()
