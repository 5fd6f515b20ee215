"""Image integrity: the hash an E01 stores at acquisition, checked against the media data read now.

For E01 the stored MD5/SHA-1 (written by the acquisition tool) is compared with a fresh hash of the
media data, as the ACPO guide expects before evidence is relied on. Raw images, split raw, devices and
virtual-disk formats store no hash: their media data is hashed so that the case records an acquisition
hash that a later examination can compare with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import pyewf
from dfvfs.resolver import context as dfcontext
from dfvfs.resolver import resolver

from safenet.evidence.directory import open_readonly
from safenet.evidence.image.chain import spec_for
from safenet.evidence.locator import Layer, LayerKind
from safenet.evidence.model import EvidenceError
from safenet.reasons import reason_of

_CHUNK = 4 << 20


@dataclass(frozen=True, slots=True)
class ImageHashes:
    """Stored (from the image) and computed (now) digests of the media data; ``verified`` None: nothing stored."""

    image_format: str
    stored: dict[str, str] = field(default_factory=dict)
    computed: dict[str, str] = field(default_factory=dict)
    media_size: int = 0

    @property
    def verified(self) -> bool | None:
        common = [k for k in self.stored if k in self.computed]
        if not common:
            return None
        return all(self.stored[k].lower() == self.computed[k].lower() for k in common)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.image_format,
            "stored": self.stored,
            "computed": self.computed,
            "media_size": self.media_size,
            "verified": self.verified,
        }


def stored_hashes(source: str) -> dict[str, str]:
    """The MD5/SHA-1 an E01 (all its segments) stores; empty when none was written."""
    handle = pyewf.handle()
    segments: list[BinaryIO] = []
    try:
        # Segments opened here (O_NOATIME) and handed over: libewf's own open by path would set their atimes.
        segments.extend(open_readonly(path) for path in pyewf.glob(source))
        handle.open_file_objects(segments)
        out = {}
        for name, key in (("MD5", "md5"), ("SHA1", "sha1")):
            value = handle.get_hash_value(name)
            if value:
                out[key] = value.lower()
        return out
    except OSError:
        return {}
    finally:
        handle.close()
        for segment in segments:
            segment.close()


def hash_media(source: str, image_format: str) -> ImageHashes:
    """Read the whole media data once (MD5, SHA-1, SHA-256) and compare with the stored hash if any."""
    stored = stored_hashes(source) if image_format == "ewf" else {}
    ctx = dfcontext.Context()
    try:
        stream = resolver.Resolver.OpenFileObject(
            spec_for(source, (Layer(LayerKind.IMAGE, detail=image_format),)), resolver_context=ctx
        )
    except Exception as exc:  # dfVFS raises its own errors and plain ones alike
        raise EvidenceError(f"cannot read the media data of {source}: {reason_of(exc)}") from exc
    digests = {"md5": hashlib.md5(usedforsecurity=False), "sha1": hashlib.sha1(usedforsecurity=False)}
    digests["sha256"] = hashlib.sha256()
    size, total = 0, stream.get_size()
    try:
        while size < total:  # never ask past the end: a device's reader (libsmdev) fails instead of reading short
            chunk = stream.read(min(_CHUNK, total - size))
            if not chunk:
                break
            size += len(chunk)
            for digest in digests.values():
                digest.update(chunk)
    except OSError as exc:  # a failing drive: say where, never a traceback
        raise EvidenceError(
            f"reading the media data of {source} failed at byte {size} of {total}: {reason_of(exc)}"
        ) from exc
    finally:
        stream.close()
    return ImageHashes(image_format, stored, {k: d.hexdigest() for k, d in digests.items()}, size)
