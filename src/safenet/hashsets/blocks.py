"""Block-hash sets: the distinctive 4 KiB blocks of known files, for sampling a disk (``safenet sample``).

A file system stores a file's bytes in clusters aligned to the partition, and clusters are multiples of 4 KiB
on every common file system, so the 4 KiB blocks of a file (counted from its first byte) lie on the disk's
4 KiB grid wherever the file is. Reading a random sample of the disk's blocks and finding one of them among a
known file's blocks is evidence that the file (or the part of it) is on the disk, without reading the disk
whole (Garfinkel's sector hashing; hashdb and bulk_extractor's random sampling).

Only *distinctive* blocks are kept; a block that could turn up on a disk for any other reason proves nothing:

- all one byte value (zero-filled, 0xFF-filled);
- a short pattern repeated (a period of 64 bytes or less: fill patterns, empty table slots);
- low entropy (under ``MIN_ENTROPY`` bits per byte: text, sparse tables, uncompressed headers);
- present in more than one file of the set (a shared header or a common resource);
- present in a known-good set given at build time (operating-system and application files).

A file's last, partial block is not used: the bytes after its end on disk (slack) are not the file's.

Hash: XXH3-128 (``xxhash``): 128 bits makes an accidental collision among 2^40 blocks about 2^-48 likely,
and it hashes at memory speed; it is not a cryptographic claim: a block hit is confirmed by hashing the whole
file it belongs to (an ordinary exact finding) where the file system can say which file that is.

On disk a block set is three sorted NumPy arrays in a folder (``hi``/``lo``: the 128-bit hash as two unsigned
64-bit halves; ``where``: the file index and block number), memory-mapped when opened, plus ``files.json``
(each file's name, size and how many of its blocks are distinctive) and ``meta.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import xxhash

from safenet.hashsets.model import HashSetError
from safenet.owner_only import write_owner_only

BLOCK = 4096
MIN_ENTROPY = 3.0  # bits per byte; random or compressed data (pictures, video) is near 8
MAX_PERIOD = 64
#: A file is "sampleable" when at least this share of its whole blocks is distinctive: then the amount of it on
#: a disk is (nearly) the amount of distinctive blocks a sample can hit.
SAMPLEABLE_SHARE = 0.5
HASH_DTYPE = np.dtype(np.uint64)
WHERE_DTYPE = np.dtype([("file", np.uint32), ("block", np.uint32)])


def block_hash(block: bytes | memoryview) -> tuple[int, int]:
    """The block's XXH3-128 as (high, low) 64-bit halves."""
    value = xxhash.xxh3_128_intdigest(block)
    return value >> 64, value & 0xFFFF_FFFF_FFFF_FFFF


def md5_halves(block: bytes | memoryview) -> tuple[int, int]:
    """The block's MD5 as (high, low) 64-bit halves: the block hash hashdb and DFXML byte runs carry."""
    value = int.from_bytes(hashlib.md5(block, usedforsecurity=False).digest(), "big")
    return value >> 64, value & 0xFFFF_FFFF_FFFF_FFFF


#: Block hash functions by the name a set records (``meta.json``'s ``hash``); every one is 128 bits.
XXH3: Final = "xxh3-128"  # the block hash sets are built with (``block_hash``)
BLOCK_HASHES: dict[str, Callable[[bytes | memoryview], tuple[int, int]]] = {XXH3: block_hash, "md5": md5_halves}


def _entropy(block: bytes | memoryview) -> float:
    counts = np.bincount(np.frombuffer(block, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(block)
    return float(-(p * np.log2(p)).sum())


def why_not_probative(block: bytes | memoryview) -> str | None:
    """Why a block proves nothing (one of the rules above), or None when it is distinctive."""
    data = bytes(block)
    if data.count(data[0]) == len(data):
        return "one byte value"
    period = 1
    while period <= MAX_PERIOD:
        if data == data[:period] * (len(data) // period):
            return "repeated pattern"
        period *= 2
    if _entropy(data) < MIN_ENTROPY:
        return "low entropy"
    return None


def file_blocks(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(block number, hash high, hash low) of each whole, probative block of a file's bytes."""
    view = memoryview(data)
    for number in range(len(data) // BLOCK):
        block = view[number * BLOCK : (number + 1) * BLOCK]
        if why_not_probative(block) is None:
            hi, lo = block_hash(block)
            yield number, hi, lo


@dataclass(frozen=True, slots=True)
class BlockFile:
    name: str  # relative path in the reference folder
    size: int
    blocks: int  # whole 4 KiB blocks
    distinctive: int  # blocks kept in the set

    @property
    def sampleable(self) -> bool:
        return self.blocks > 0 and self.distinctive >= SAMPLEABLE_SHARE * self.blocks


@dataclass(frozen=True, slots=True)
class BlockSetInfo:
    name: str
    files: int
    sampleable_files: int
    distinctive_blocks: int
    dropped_shared: int  # blocks found in more than one file of the set
    dropped_known_good: int  # blocks found in a known-good set
    dropped_not_probative: int  # one value, repeated pattern, low entropy
    hash: str = XXH3  # BLOCK_HASHES key


def build_block_set(
    files: Iterable[tuple[str, bytes]], target: Path, name: str, known_good: Iterable[BlockSet] = ()
) -> BlockSetInfo:
    """Hash the files' blocks, keep the distinctive ones, and write the set into the (new) folder ``target``."""

    def hashed() -> Iterator[tuple[str, int, int, list[tuple[int, int, int]]]]:
        for relative, data in files:
            yield relative, len(data), len(data) // BLOCK, list(file_blocks(data))

    return _write_set(hashed(), target, name, XXH3, known_good)


def import_dfxml_blocks(
    source: Path, target: Path, name: str, warn: Callable[[str, str], None], known_good: Iterable[BlockSet] = ()
) -> BlockSetInfo:
    """A block set from a DFXML file's per-block hashes (hashdb and bulk_extractor write them): each
    ``fileobject``'s ``byte_run`` elements of 4096 bytes at a 4 KiB-aligned ``file_offset`` with an MD5
    ``hashdigest``. The blocks' bytes are not there to judge, so only the sharing and known-good rules apply;
    other runs are skipped and counted in one warning."""
    from defusedxml.ElementTree import iterparse  # type: ignore[import-untyped]

    skipped = 0

    def local(tag: str) -> str:
        return tag.rpartition("}")[2]

    def entries() -> Iterator[tuple[str, int, int, list[tuple[int, int, int]]]]:
        nonlocal skipped
        for _event, element in iterparse(str(source), events=("end",)):
            if local(element.tag) != "fileobject":
                continue
            filename, size, blocks = "", 0, []
            for child in element.iter():
                tag = local(child.tag)
                if tag == "filename":
                    filename = (child.text or "").strip()
                elif tag == "filesize" and (child.text or "").strip().isdigit():
                    size = int((child.text or "").strip())
                elif tag == "byte_run":
                    digest = _md5_of(child)
                    offset, length = child.get("file_offset", ""), child.get("len", "")
                    if len(digest) == 32 and offset.isdigit() and length == str(BLOCK) and int(offset) % BLOCK == 0:
                        value = int(digest, 16)
                        blocks.append((int(offset) // BLOCK, value >> 64, value & 0xFFFF_FFFF_FFFF_FFFF))
                    elif child.find("./*") is not None:
                        skipped += 1
            element.clear()
            yield filename, size, size // BLOCK, blocks

    try:
        info = _write_set(entries(), target, name, "md5", known_good)
    except (OSError, ValueError, SyntaxError) as exc:  # ParseError is a SyntaxError; defusedxml's refusals ValueError
        raise BlockSetError(f"{source} is not a DFXML file Safenet can read block hashes from ({exc})") from exc
    if skipped:
        warn("", f"{skipped} byte runs were not 4 KiB-aligned 4 KiB blocks with an MD5 and were skipped")
    return info


def _md5_of(run: Any) -> str:
    """The MD5 hashdigest of a DFXML byte_run element ("" when it has none)."""
    for digest in run:
        if digest.tag.rpartition("}")[2] == "hashdigest" and digest.get("type", "").lower() == "md5":
            return str(digest.text or "").strip()
    return ""


def _write_set(
    entries: Iterable[tuple[str, int, int, list[tuple[int, int, int]]]],
    target: Path,
    name: str,
    hash_name: str,
    known_good: Iterable[BlockSet],
) -> BlockSetInfo:
    """Keep the distinctive blocks of (name, size, whole blocks, [(block number, hi, lo)]) entries and write the
    set. Every known-good set must use the same block hash."""
    names: list[tuple[str, int, int]] = []
    his: list[int] = []
    los: list[int] = []
    where: list[tuple[int, int]] = []
    not_probative = 0
    for index, (relative, size, whole, blocks) in enumerate(entries):
        for number, hi, lo in blocks:
            his.append(hi)
            los.append(lo)
            where.append((index, number))
        not_probative += whole - len(blocks)
        names.append((relative, size, whole))
    hi_arr = np.array(his, dtype=HASH_DTYPE)
    lo_arr = np.array(los, dtype=HASH_DTYPE)
    where_arr = np.array(where, dtype=WHERE_DTYPE)
    # A hash seen in two different files is shared: drop every copy of it. The same block twice in one file
    # stays (it still points at that file).
    order = np.lexsort((lo_arr, hi_arr))
    hi_arr, lo_arr, where_arr = hi_arr[order], lo_arr[order], where_arr[order]
    shared = _shared_between_files(hi_arr, lo_arr, where_arr["file"])
    dropped_shared = int(shared.sum())
    keep = ~shared
    good = np.zeros(len(hi_arr), dtype=bool)
    for other in known_good:
        if other.info.hash != hash_name:
            raise BlockSetError(
                f"the known-good block set {other.info.name} uses {other.info.hash} block hashes, this set "
                f"{hash_name}: they cannot be compared"
            )
        good |= other.contains(hi_arr, lo_arr)
    dropped_good = int((good & keep).sum())
    keep &= ~good
    hi_arr, lo_arr, where_arr = hi_arr[keep], lo_arr[keep], where_arr[keep]
    per_file = Counter(int(f) for f in where_arr["file"])
    listed = [BlockFile(n, size, whole, per_file.get(i, 0)) for i, (n, size, whole) in enumerate(names)]
    info = BlockSetInfo(
        name=name,
        files=len(listed),
        sampleable_files=sum(1 for f in listed if f.sampleable),
        distinctive_blocks=len(hi_arr),
        dropped_shared=dropped_shared,
        dropped_known_good=dropped_good,
        dropped_not_probative=not_probative,
        hash=hash_name,
    )
    target.mkdir(mode=0o700, parents=True)
    for part, array in (("hi", hi_arr), ("lo", lo_arr), ("where", where_arr)):
        with (target / f"{part}.npy").open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.chmod(target / f"{part}.npy", 0o600)
    write_owner_only(target / "files.json", json.dumps([asdict(f) for f in listed]).encode())
    write_owner_only(target / "meta.json", json.dumps(asdict(info), indent=2).encode())
    return info


def _shared_between_files(hi: np.ndarray, lo: np.ndarray, file: np.ndarray) -> np.ndarray:
    """For hash-sorted arrays: which entries have a hash that also belongs to another file."""
    if len(hi) == 0:
        return np.zeros(0, dtype=bool)
    new_run = np.ones(len(hi), dtype=bool)
    new_run[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
    run_id = np.cumsum(new_run) - 1
    first_file = file[new_run][run_id]
    differs = file != first_file
    runs_shared = np.zeros(int(run_id[-1]) + 1, dtype=bool)
    np.logical_or.at(runs_shared, run_id, differs)
    shared: np.ndarray = runs_shared[run_id]
    return shared


@dataclass(frozen=True, slots=True)
class BlockHit:
    offset: int  # where the block was read (bytes from the start of the device or image)
    file: str  # the known file it belongs to
    block: int  # which of that file's blocks


class BlockSet:
    """An opened block set: memory-mapped sorted hashes and vectorised lookups."""

    def __init__(self, folder: Path) -> None:
        try:
            self.hi = np.load(folder / "hi.npy", mmap_mode="r", allow_pickle=False)
            self.lo = np.load(folder / "lo.npy", mmap_mode="r", allow_pickle=False)
            self.where = np.load(folder / "where.npy", mmap_mode="r", allow_pickle=False)
            self.files = [BlockFile(**f) for f in json.loads((folder / "files.json").read_text(encoding="utf-8"))]
            self.info = BlockSetInfo(**json.loads((folder / "meta.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise BlockSetError(f"the block set at {folder} cannot be read ({exc}); build it again") from exc
        if not (len(self.hi) == len(self.lo) == len(self.where)) or self.info.hash not in BLOCK_HASHES:
            raise BlockSetError(f"the block set at {folder} is inconsistent; build it again")

    def _positions(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """For each query, the index of an equal entry, or -1 (runs of equal high halves are walked)."""
        n = len(self.hi)
        out = np.full(len(hi), -1, dtype=np.int64)
        if n == 0 or len(hi) == 0:
            return out
        left = np.searchsorted(self.hi, hi, side="left")
        right = np.searchsorted(self.hi, hi, side="right")
        for q in np.nonzero(right > left)[0]:  # only queries whose high half is present: rare for a disk sample
            span = self.lo[left[q] : right[q]]
            match = np.nonzero(span == lo[q])[0]
            if len(match):
                out[q] = left[q] + int(match[0])
        return out

    def contains(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        return self._positions(hi, lo) >= 0

    def lookup(self, offsets: Sequence[int], hi: np.ndarray, lo: np.ndarray) -> list[BlockHit]:
        """The blocks (read at ``offsets``, whose hashes' halves are ``hi`` and ``lo``) that belong to known files."""
        found = self._positions(hi, lo)
        hits = []
        for q in np.nonzero(found >= 0)[0]:
            entry = self.where[found[q]]
            hits.append(BlockHit(offsets[int(q)], self.files[int(entry["file"])].name, int(entry["block"])))
        return hits


class BlockSetError(HashSetError):
    """A block set cannot be built or read; the message says what to do."""
