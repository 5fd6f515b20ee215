"""A hash set built from a folder of reference images a force holds (``safenet hashset build``).

Why: national sets arrive as hash files, but a force also holds its own graded material that is not (yet)
in them. Building a set from the images themselves gives the same kind of set an import gives: MD5, SHA-1,
SHA-256 and ED2K of every file (ED2K so that a P2P client's record of a file, which names it by ED2K alone,
matches a set built here), plus the PDQ hash of every image computed on the *exact* (reference) path, so
a set built here matches what Meta's reference hasher would have listed, and, for a picture with uniform
borders, the PDQ of the picture inside them (so a copy found cropped or re-bordered still matches). No
copy of any image is kept.

Videos (by signature) are hashed as files (digests read in chunks: no size limit, nothing held whole) and
their frames with ``VideoSettings.reference()`` (4 frames/s: see there why denser than found videos); the
usable frames become the entry's ``video_frames``. A video whose hashing stopped early (damaged, budget)
keeps the frames it got and the build says so.

The folder is walked in sorted order without following symbolic links, so the same folder always gives
the same entries; the set's "source digest" is the SHA-256 of a manifest of (relative path, SHA-256) lines,
which changes when any file is added, removed, renamed or altered.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from safenet.analysis.digests import Hasher
from safenet.analysis.ed2k import Ed2kHash, ed2k
from safenet.analysis.filetype import HEAD_BYTES, MediaKind, sniff
from safenet.analysis.pdq import PdqMode, Skipped, compute
from safenet.analysis.video.model import VideoSettings
from safenet.hashsets.formats.base import clip
from safenet.hashsets.model import HashRecord, HashSetError, VideoFrameRecord, WarnFn

MAX_FILE = 1 << 30  # a reference image larger than 1 GiB is not an image worth reading whole


@dataclass(frozen=True, slots=True)
class _Hashed:
    relative: str
    record: HashRecord | None
    sha256_hex: str | None
    problem: str | None
    image: bool  # an image or a video: something with perceptual hashes


class ReferenceFolder:
    """The files of one folder, hashed on ``workers`` threads and yielded in sorted order."""

    FORMAT: ClassVar[str] = "folder"

    def __init__(self, folder: Path, category: str | None, workers: int = 2) -> None:
        if not folder.is_dir():
            raise HashSetError(f"{folder} is not a folder; give the folder of reference images to build from")
        self.folder = folder
        self.category = category
        self.workers = max(1, workers)
        self._manifest = hashlib.sha256()
        self._finished = False

    def files(self) -> list[Path]:
        """Regular files below the folder, sorted; links are never followed."""
        found: list[Path] = []
        for top, dirs, names in os.walk(self.folder, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                path = Path(top) / name
                if path.is_file() and not path.is_symlink():
                    found.append(path)
        return found

    def records(self, warn: WarnFn) -> Iterator[HashRecord]:
        """One record per readable file; images carry a PDQ hash and its quality."""
        files = self.files()
        not_images = 0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="reference") as pool:
            for hashed in pool.map(self._hash, files):
                if hashed.problem:
                    warn(hashed.relative, hashed.problem)
                if hashed.record is None or hashed.sha256_hex is None:
                    continue
                not_images += not hashed.image
                self._manifest.update(f"{hashed.relative}\t{hashed.sha256_hex}\n".encode("utf-8", "surrogateescape"))
                yield hashed.record
        if not_images:
            warn("", f"{not_images} files are not images or videos by signature: added with MD5/SHA-1/SHA-256 only")
        self._finished = True

    def digest(self) -> str:
        """SHA-256 of the manifest (relative path and SHA-256 of every file added), once ``records`` ran."""
        if not self._finished:
            raise RuntimeError("the manifest digest exists only after every record was read")
        return self._manifest.hexdigest()

    def _hash(self, path: Path) -> _Hashed:
        relative = clip(path.relative_to(self.folder).as_posix(), 300)
        try:
            with path.open("rb") as handle:
                if sniff(handle.read(HEAD_BYTES)).kind is MediaKind.VIDEO:
                    return self._hash_video(path, relative)
            if path.stat().st_size > MAX_FILE:
                return _Hashed(relative, None, None, "larger than 1 GiB; not added", False)
            data = path.read_bytes()
        except OSError as exc:
            return _Hashed(relative, None, None, f"cannot be read ({exc.strerror or exc}); not added", False)
        sha256 = hashlib.sha256(data).digest()
        image = sniff(data[:HEAD_BYTES]).kind is MediaKind.IMAGE
        pdq, quality, problem = None, None, None
        trimmed, trimmed_quality = None, None
        if image:
            result = compute(data, PdqMode.EXACT)
            if isinstance(result, Skipped):
                problem = f"no PDQ hash ({result.reason}: {clip(result.message)}); added with exact digests only"
            else:
                pdq, quality = result.full.hash, result.quality
                if result.trimmed is not None:
                    trimmed, trimmed_quality = result.trimmed.hash, result.trimmed.quality
                if result.low_quality_reason and result.full.usable:
                    problem = f"PDQ kept but {result.low_quality_reason}"
        record = HashRecord(
            md5=hashlib.md5(data).digest(),  # noqa: S324 - set digests, not a security use
            sha1=hashlib.sha1(data).digest(),  # noqa: S324
            sha256=sha256,
            ed2k=ed2k(data),
            category=self.category,
            size=len(data),
            name=relative,
            ref=relative,
            pdq=pdq,
            pdq_quality=quality,
            pdq_trimmed=trimmed,
            pdq_trimmed_quality=trimmed_quality,
        )
        return _Hashed(relative, record, sha256.hex(), problem, image)

    def _hash_video(self, path: Path, relative: str) -> _Hashed:
        """Digests in chunks, then the frames (usable ones only: the others can never support a match)."""
        digests: dict[str, Hasher] = {name: hashlib.new(name) for name in ("md5", "sha1", "sha256")}
        digests["ed2k"] = Ed2kHash()
        size = 0
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                size += len(chunk)
                for digest in digests.values():
                    digest.update(chunk)
        from safenet.analysis.video.hasher import hash_video  # PyAV: imported when a video is met

        hashed = hash_video(path, VideoSettings.reference())
        frames = tuple(
            VideoFrameRecord(f.timestamp_s, f.pdq, f.quality, f.trimmed, f.trimmed_quality)
            for f in hashed.usable_frames
        )
        problem = None
        if not hashed.complete:
            problem = (
                f"video hashing stopped early ({hashed.stop.value}: {clip(hashed.message)}); {len(frames)} frames kept"
            )
        if not frames:
            problem = f"no usable video frames ({hashed.stop.value}: {clip(hashed.message)}); exact digests only"
        record = HashRecord(
            md5=digests["md5"].digest(),
            sha1=digests["sha1"].digest(),
            sha256=digests["sha256"].digest(),
            ed2k=digests["ed2k"].digest(),
            category=self.category,
            size=size,
            name=relative,
            ref=relative,
            video_frames=frames,
        )
        return _Hashed(relative, record, digests["sha256"].digest().hex(), problem, True)
