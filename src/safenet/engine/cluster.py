"""Where a cluster run's workers find the evidence: the scheduler's address and the path mappings.

Light on purpose (no Dask import): the command line parses ``--cluster`` and ``--path-map`` with it, and the
options travel in ``TriageOptions`` and the lab queue as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True, slots=True)
class PathMap:
    """The coordinator sees the evidence under ``local``; the workers see the same files under ``shared``."""

    local: str
    shared: str

    @classmethod
    def parse(cls, text: str) -> PathMap:
        """``/local=/shared``; a ValueError names what is wrong."""
        local, sep, shared = text.partition("=")
        if not sep or not local.startswith("/") or not shared.startswith("/"):
            raise ValueError(f"--path-map {text!r} is not LOCAL=SHARED with two absolute paths, e.g. /mnt/ev=/lab/ev")
        return cls(str(PurePosixPath(local)), str(PurePosixPath(shared)))

    def __str__(self) -> str:
        """``LOCAL=SHARED``, as ``parse`` reads it (how a mapping is recorded and queued)."""
        return f"{self.local}={self.shared}"

    def apply(self, path: str) -> str | None:
        """``path`` as the workers see it, or None when it is not under ``local``."""
        pure, local = PurePosixPath(path), PurePosixPath(self.local)
        if pure != local and local not in pure.parents:
            return None
        return str(PurePosixPath(self.shared) / pure.relative_to(local))


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """A Dask scheduler (``tcp://host:8786``) and how its workers see the coordinator's paths."""

    address: str
    path_map: tuple[PathMap, ...] = ()

    def worker_path(self, path: str) -> str:
        """Where the workers find ``path``: the first mapping that covers it, else the same path (shared storage
        mounted at the same place everywhere)."""
        for mapping in self.path_map:
            mapped = mapping.apply(path)
            if mapped is not None:
                return mapped
        return path

    def as_dict(self) -> dict[str, object]:
        """As recorded in the run's config."""
        return {"address": self.address, "path_map": [str(m) for m in self.path_map]}
