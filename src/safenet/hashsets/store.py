"""The hash-set database: the public face of the store, and the layout of its directory.

Why a module of its own: callers (CLI, triage engine) see only ``HashSetStore`` and ``Matcher``; this module
ties the parts together and owns the directory they live in. The parts: ``catalog`` (set metadata in
SQLite), ``build`` (records -> sorted digest tables), ``exact`` (the tables, memory-mapped, and the
batched lookup).

Layout of ``root`` (owner-only):

- ``catalog.sqlite``: set metadata (what a run records), per-set category tables, per-kind table shapes and
  the store format version.
- ``sets/<token>/``: one directory per set (tables as described in ``exact``; ``extra.sqlite`` with
  per-entry metadata such as VICS fields when there is any). A set is written into ``sets/.tmp-<token>``
  and renamed into place, so a crashed import leaves no half set. That staging folder holds an flock on its
  ``.lock`` file while its import runs; the kernel drops the lock when the process dies, so opening the
  store removes a killed import's leftovers (lock free) but never those of a running import (lock held).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from safenet.hashsets.build import EXTRA_FILE, Builder, WarnLimiter
from safenet.hashsets.catalog import (
    DEFAULT_PDQ_THRESHOLD,
    Catalog,
    CategoryCounts,
    SetContents,
    check_name,
    check_pdq_threshold,
    name_taken,
)
from safenet.hashsets.categories import Scheme, get_scheme, load_scheme_file
from safenet.hashsets.formats import detect_format, get_format
from safenet.hashsets.formats.base import BulkDigests, HashSetFormat
from safenet.hashsets.matcher import Matcher
from safenet.hashsets.model import HashKind, HashRecord, HashSetError, HashSetInfo, SetKind, WarnFn
from safenet.hashsets.reference import ReferenceFolder

if TYPE_CHECKING:
    from safenet.hashsets.blocks import BlockSet, BlockSetInfo

__all__ = ["HashSetStore", "Matcher"]

CATALOG = "catalog.sqlite"
SETS = "sets"
MAX_BLOCK_FILE = 4 << 30
BLOCKS = "blocks"  # block-hash sets for sampling, one folder per set name (hashsets.blocks)
STAGING_PREFIX = ".tmp-"
_LOCK_FILE = ".lock"
_LOCKLESS_GRACE_S = 24 * 3600  # a staging folder without a lock file (older Safenet) is stale after this


class HashSetStore:
    """All imported hash sets on this machine (or lab share); separate from any case."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.root / SETS).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise HashSetError(
                f"cannot create the hash-set database at {self.root}: {exc.strerror or exc}; "
                "choose a directory you can write to"
            ) from exc
        self._sets = self.root / SETS
        self._catalog = Catalog(self.root / CATALOG)
        _sweep_stale(self._sets)

    # --- catalog -----------------------------------------------------------------------------------------

    def list(self) -> list[HashSetInfo]:
        """Every imported set, by name."""
        return self._catalog.infos()

    def get(self, name: str) -> HashSetInfo:
        """One set's catalog entry, or a HashSetError that names it."""
        return self._catalog.info(name)

    def remove(self, name: str) -> None:
        """Delete a set from the catalog, then its files (and its block set, if it has one)."""
        shutil.rmtree(self._sets / self._catalog.remove(name), ignore_errors=True)
        shutil.rmtree(self.root / BLOCKS / name, ignore_errors=True)

    # --- block-hash sets (sampling) ----------------------------------------------------------------------

    def build_blocks(self, folder: Path, name: str, *, exclude: Sequence[str] = (), warn: WarnFn) -> BlockSetInfo:
        """The distinctive 4 KiB blocks of every file of ``folder`` as the block set of the hash set ``name``
        (built beside it; a set built again replaces its block set). Blocks found in the block sets named in
        ``exclude`` (known-good sets) are dropped."""
        from safenet.hashsets.blocks import build_block_set

        self.get(name)  # the exact set exists: a block set always belongs to one
        known_good = [self.block_set(other) for other in exclude]
        target = self.root / BLOCKS / name
        staging = self.root / BLOCKS / f".{name}.{secrets.token_hex(4)}"
        reference = ReferenceFolder(folder, None)

        def files() -> Iterable[tuple[str, bytes]]:
            for path in reference.files():
                relative = path.relative_to(folder).as_posix()
                try:
                    if path.stat().st_size > MAX_BLOCK_FILE:
                        warn(relative, "larger than 4 GiB; its blocks are not in the block set")
                        continue
                    yield relative, path.read_bytes()
                except OSError as exc:
                    warn(relative, f"cannot be read ({exc.strerror or exc}); its blocks are not in the block set")

        info = build_block_set(files(), staging, name, known_good)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return info

    def import_blocks(self, source: Path, name: str, *, exclude: Sequence[str] = (), warn: WarnFn) -> BlockSetInfo:
        """A block set from a DFXML file's 4 KiB byte-run MD5s (``hashsets.blocks.import_dfxml_blocks``); a set
        of that name imported or built before is replaced. It may stand alone: a hit then cannot be confirmed by
        a file's exact hash unless a hash set of the same name exists."""
        from safenet.hashsets.blocks import import_dfxml_blocks

        check_name(name)
        known_good = [self.block_set(other) for other in exclude]
        staging = self.root / BLOCKS / f".{name}.{secrets.token_hex(4)}"
        info = import_dfxml_blocks(source, staging, name, warn, known_good)
        target = self.root / BLOCKS / name
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return info

    def block_set(self, name: str) -> BlockSet:
        """The block set built with the hash set ``name``."""
        from safenet.hashsets.blocks import BlockSet

        folder = self.root / BLOCKS / name
        if not (folder / "meta.json").is_file():
            raise HashSetError(
                f"hash set {name} has no block set; build it with `safenet hashset build FOLDER --name {name} ... "
                "--blocks`"
            )
        return BlockSet(folder)

    def scheme(self, name: str) -> Scheme:
        """The category scheme a set was imported with, as it was then (a snapshot, not today's file)."""
        return self._catalog.scheme(name)

    def set_pdq_threshold(self, name: str, threshold: int) -> None:
        """Change a set's PDQ match distance; recorded with every later run that uses the set."""
        self._catalog.set_pdq_threshold(name, threshold)

    def category_counts(self, name: str) -> CategoryCounts:
        """(raw code, UK code, number of entries) for each category code the set uses."""
        return self._catalog.category_counts(name)

    def extra(self, name: str, entry: int) -> Mapping[str, str] | None:
        """Per-entry metadata kept at import (VICS MediaID, Series, PhotoDNA ...), or None."""
        path = self._sets / self._catalog.directory(name) / EXTRA_FILE
        if not path.exists():
            return None
        with contextlib.closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as db:
            row = db.execute("SELECT data FROM extra WHERE entry = ?", (int(entry),)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    # --- import ------------------------------------------------------------------------------------------

    def import_file(
        self,
        path: Path,
        name: str,
        *,
        kind: SetKind | None = None,
        format_name: str | None = None,
        scheme: str | None = None,
        scheme_file: Path | None = None,
        replace: bool = False,
        pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
        warn: WarnFn,
    ) -> HashSetInfo:
        """Read a hash-set file into the store under ``name``; see the module docstring for the layout."""
        path = Path(path)
        check_name(name)
        check_pdq_threshold(pdq_threshold)
        if not path.is_file():
            raise HashSetError(f"{path} is not a file; give the path of the hash-set file to import")
        fmt = get_format(format_name) if format_name else detect_format(path)
        set_kind = kind if kind is not None else fmt.DEFAULT_KIND
        if set_kind is None:
            raise HashSetError(
                f"Safenet cannot tell what kind of set {path.name} ({fmt.NAME}) is; "
                "pass --kind illicit|known-good|notable"
            )
        chosen = _explicit_scheme(scheme, scheme_file)
        if not replace and self._catalog.exists(name):
            raise name_taken(name)
        before = path.stat()
        digest = _file_sha256(path)
        limiter = WarnLimiter(warn)

        def unchanged() -> None:
            after = path.stat()
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                raise HashSetError(f"{path} changed while it was being imported; import it again")

        source = _Source(
            fmt.NAME, str(path.resolve()), digest, before.st_size, f"when read as {fmt.NAME}", lambda: chosen
        )
        info = self._build(
            name,
            set_kind,
            source,
            fmt.read_bulk(path, limiter),
            limiter,
            replace,
            pdq_threshold,
            unchanged,
            default_scheme=lambda: _default_scheme(fmt, limiter),
            profile=fmt.profile,
        )
        limiter.finish()
        return info

    def build_folder(
        self,
        folder: Path,
        name: str,
        *,
        kind: SetKind,
        category: str | None = None,
        scheme: str | None = None,
        scheme_file: Path | None = None,
        replace: bool = False,
        pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
        workers: int = 2,
        warn: WarnFn,
    ) -> HashSetInfo:
        """Hash every file of a folder of reference images (MD5, SHA-1, SHA-256, PDQ exact) into a new set.

        No copy of any image is kept: only digests, PDQ hashes, names and the category given.
        """
        folder = Path(folder)
        check_name(name)
        check_pdq_threshold(pdq_threshold)
        chosen = _explicit_scheme(scheme, scheme_file)
        if category is not None and chosen is None:
            raise HashSetError("--category needs --scheme (or --scheme-file) to say what the code means")
        if not replace and self._catalog.exists(name):
            raise name_taken(name)
        limiter = WarnLimiter(warn)
        manifest = ReferenceFolder(folder, category, workers)
        source = _Source(manifest.FORMAT, str(folder.resolve()), "", 0, "from the images in it", lambda: chosen)
        info = self._build(
            name,
            kind,
            source,
            manifest.records(limiter),
            limiter,
            replace,
            pdq_threshold,
            lambda: None,
            default_scheme=lambda: get_scheme("none"),
            profile=lambda: None,
            digest=manifest.digest,
        )
        limiter.finish()
        return info

    def _build(
        self,
        name: str,
        kind: SetKind,
        source: _Source,
        items: Iterable[HashRecord | BulkDigests],
        limiter: WarnLimiter,
        replace: bool,
        pdq_threshold: int,
        unchanged: Callable[[], None],
        *,
        default_scheme: Callable[[], Scheme],
        profile: Callable[[], str | None],
        digest: Callable[[], str] | None = None,
    ) -> HashSetInfo:
        """Stage a new set from ``items``, check it, and publish it; shared by import and folder builds."""
        with _Staging(self._sets) as staging:
            builder = Builder(staging.path, limiter)
            try:
                for item in items:
                    builder.add(item)
            except OSError as exc:
                raise HashSetError(f"cannot read {source.path}: {exc.strerror or exc}; check the file") from exc
            finally:
                builder.close()
            if builder.entries == 0:
                raise HashSetError(
                    f"{source.path} gave no usable hash entries {source.how}; check that it is really what "
                    "you meant to import (see the warnings)"
                )
            used = source.scheme() or default_scheme()
            contents = builder.finish(used)
            unchanged()
            if contents.perceptual is None and pdq_threshold != DEFAULT_PDQ_THRESHOLD:
                limiter.always("", "--pdq-threshold given but the set holds no PDQ hashes; kept for the record")
            info = HashSetInfo(
                name=name,
                format=source.format,
                source_path=source.path,
                source_sha256=digest() if digest is not None else source.sha256,
                imported_at=datetime.now(UTC),
                entry_count=builder.entries,
                scheme=used.name,
                kind=kind,
                digests=_kinds(contents),
                profile=profile(),
                pdq_threshold=pdq_threshold,
            )
            self._commit(info, staging, contents, used, source.size, replace)
        return info

    def _commit(
        self, info: HashSetInfo, staging: _Staging, contents: SetContents, scheme: Scheme, size: int, replace: bool
    ) -> None:
        """Rename the staged directory into place and record the set in one catalog transaction."""
        directory = staging.publish()
        try:
            old_directory = self._catalog.add(info, directory, contents, scheme, size, replace)
        except BaseException:
            shutil.rmtree(self._sets / directory, ignore_errors=True)
            raise
        _fsync_dir(self._sets)
        if old_directory:
            shutil.rmtree(self._sets / old_directory, ignore_errors=True)

    # --- lookups -----------------------------------------------------------------------------------------

    def matcher(self, names: Sequence[str]) -> Matcher:
        """A matcher over the named sets (in the given order); arrays are memory-mapped, not loaded."""
        stored = self._catalog.stored(list(dict.fromkeys(names)))
        return Matcher([(s, self._sets / s.directory) for s in stored])


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a new set comes from, as the catalog records it."""

    format: str
    path: str
    sha256: str
    size: int
    how: str  # completes "gave no usable hash entries ..."
    scheme: Callable[[], Scheme | None]


def _kinds(contents: SetContents) -> tuple[HashKind, ...]:
    perceptual = {HashKind.PDQ: contents.perceptual, HashKind.VPDQ: contents.video}
    return tuple(k for k in HashKind if k in contents.tables or perceptual.get(k))


def _explicit_scheme(scheme: str | None, scheme_file: Path | None) -> Scheme | None:
    if scheme_file is not None:
        loaded = load_scheme_file(Path(scheme_file))
        if scheme is not None and scheme != loaded.name:
            raise HashSetError(
                f"--scheme '{scheme}' and the scheme file's name '{loaded.name}' disagree; give only one"
            )
        return loaded
    return get_scheme(scheme) if scheme is not None else None


def _default_scheme(fmt: HashSetFormat, warn: WarnFn) -> Scheme:
    caveat = fmt.scheme_caveat()
    if caveat:
        warn("", caveat)
    return get_scheme(fmt.default_scheme())


def _file_sha256(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise HashSetError(f"cannot read {path}: {exc.strerror or exc}; check the path and permissions") from exc


# --- the staging folder --------------------------------------------------------------------------------


class _Staging:
    """A new ``sets/.tmp-*`` folder, locked for as long as this import runs; removed unless published."""

    def __init__(self, sets: Path) -> None:
        self._sets = sets
        for _ in range(10):  # a retry only when a concurrent sweep took the fresh folder for a stale one
            self.path = sets / f"{STAGING_PREFIX}{secrets.token_hex(8)}"
            self.path.mkdir(mode=0o700)
            fd = _lock(self.path / _LOCK_FILE, create=True)
            if fd is not None:
                self._fd = fd
                self._published = False
                return
        raise HashSetError(f"cannot claim a temporary folder in {sets}; try the import again")

    def publish(self) -> str:
        """Rename the finished folder into place under a new name (returned); it is no longer staging."""
        directory = secrets.token_hex(8)
        _fsync_dir(self.path)
        os.rename(self.path, self._sets / directory)
        self._published = True
        with contextlib.suppress(OSError):
            os.unlink(self._sets / directory / _LOCK_FILE)
        return directory

    def __enter__(self) -> _Staging:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._published:
                shutil.rmtree(self.path, ignore_errors=True)
        finally:
            os.close(self._fd)


def _sweep_stale(sets: Path) -> None:
    """Remove the staging folders of imports that were killed; those of running imports are kept.

    A folder is stale when nobody holds its lock, or, without a lock file (left by a Safenet older than
    the lock), when it has not changed for a day.
    """
    found: list[os.DirEntry[str]] = []
    with contextlib.suppress(OSError), os.scandir(sets) as entries:
        found = [e for e in entries if e.name.startswith(STAGING_PREFIX) and e.is_dir(follow_symlinks=False)]
    for entry in found:
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if not os.path.lexists(path / _LOCK_FILE):
                if time.time() - entry.stat(follow_symlinks=False).st_mtime > _LOCKLESS_GRACE_S:
                    shutil.rmtree(path, ignore_errors=True)
                continue
            fd = _lock(path / _LOCK_FILE, create=False)
            if fd is not None:
                try:
                    shutil.rmtree(path, ignore_errors=True)
                finally:
                    os.close(fd)


def _lock(path: Path, *, create: bool) -> int | None:
    """A descriptor holding an exclusive flock on ``path``, or None: locked elsewhere, or no longer there.

    The check that ``path`` still names the locked file closes the race with a sweep that removed it
    between our open and our lock.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        return None
    locked = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        linked, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
        locked = (linked.st_dev, linked.st_ino) == (held.st_dev, held.st_ino)
    except (BlockingIOError, FileNotFoundError):
        pass
    finally:
        if not locked:
            os.close(fd)
    return fd if locked else None


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
