"""Builders for synthetic evidence and hash sets used across tests (benign generated pictures only)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from safenet.demo import VICS_UK_CONTEXT, picture


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    picture(seed, size).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def png(seed: int, size: tuple[int, int] = (48, 32)) -> bytes:
    buf = io.BytesIO()
    picture(seed, size).save(buf, format="PNG")
    return buf.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class VicsSet:
    """A synthetic VICS 2.0 UK #Media hash set: MD5 -> Category code (None = uncategorised)."""

    entries: dict[str, int | None] = field(default_factory=dict)

    def add(self, data: bytes, code: int | None) -> None:
        self.entries[md5(data).upper()] = code

    def write(self, path: Path) -> Path:
        media = []
        for n, (digest, code) in enumerate(sorted(self.entries.items()), start=1):
            entry: dict[str, object] = {"MediaID": n, "MD5": digest}
            if code is not None:
                entry["Category"] = code
            media.append(entry)
        path.write_text(json.dumps({"@odata.context": VICS_UK_CONTEXT, "value": media}))
        return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
