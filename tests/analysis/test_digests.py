"""The one-read loop (``analysis.digests``): every digest equals hashlib's (and ED2K's reference) over the bytes
read, whichever buffer the bytes went through: the batch's arena, the thread's reused chunk buffer, or fresh
bytes from a stream without a dependable ``readinto``; a sink gets every byte, in bytes of its own; the cap and
the growth check hold."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import pytest

from safenet.analysis import digests
from safenet.analysis.digests import CHUNK, StreamRead, analyse_stream
from safenet.analysis.ed2k import Ed2kHash
from safenet.analysis.filetype import HEAD_BYTES, FileType
from safenet.analysis.md5mb import Md5Batch

JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
SIZES = (0, 1, 19, 20, HEAD_BYTES - 1, HEAD_BYTES, HEAD_BYTES + 1, 70_000, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 5)
ALGORITHMS = ("md5", "sha1", "sha256", "ed2k")


def _data(size: int) -> bytes:
    body = JPEG_HEAD + np.random.default_rng([20261206, size]).integers(0, 256, size, dtype=np.uint8).tobytes()
    return body[:size]


def _reference(data: bytes) -> dict[str, bytes]:
    found = {name: hashlib.new(name, data).digest() for name in ALGORITHMS if name != "ed2k"}
    found["ed2k"] = Ed2kHash(data).digest()
    return {name: found[name] for name in ALGORITHMS}


class _Trickle:
    """A stream with ``read`` only (an archive member's), giving at most 3000 bytes a call."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._inner.read(min(3000, size) if size >= 0 else 3000)


class _Keep:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        assert isinstance(data, bytes)  # kept: never a view into a buffer that is reused
        self.chunks.append(data)
        return len(data)


def _tee(sink: _Keep | None) -> Callable[[FileType], _Keep | None]:
    return lambda _: sink


def _streams(data: bytes, tmp_path: Path) -> dict[str, BinaryIO]:
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    return {
        "file": cast(BinaryIO, open(path, "rb", buffering=0)),  # the files: closed by the test
        "buffered": open(path, "rb"),
        "bytesio": io.BytesIO(data),
        "read-only": cast(BinaryIO, _Trickle(data)),
    }


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("sink", [False, True])
def test_digests_equal_the_references_whatever_the_buffer(tmp_path: Path, size: int, batched: bool, sink: bool) -> None:
    data = _data(size)
    for kind, stream in _streams(data, tmp_path).items():
        batch = Md5Batch() if batched else None
        kept = _Keep()
        tee = (lambda _, kept=kept: kept) if sink else None
        result = analyse_stream(stream, ALGORITHMS, lambda _: True, tee, limit=size, md5_batch=batch)
        if batch is not None:
            batch.finish()
        assert result.digests == _reference(data), (kind, size)
        assert result.bytes_read == size and not result.grew
        assert result.filetype.name == ("jpeg" if size >= 3 else "empty" if size == 0 else "unknown")
        if sink:
            assert b"".join(kept.chunks) == data, kind
        if kind in ("file", "buffered"):
            stream.close()


def test_chunk_buffer_reused_by_the_next_read_leaves_kept_bytes_alone(tmp_path: Path) -> None:
    """Two files read one after the other through the thread's chunk buffer: the first one's sink still holds
    its own bytes, and the buffer went back to the thread for the next read."""
    first, second = _data(CHUNK + 7), bytes(reversed(_data(CHUNK + 7)))
    kept = _Keep()
    sinks: tuple[_Keep | None, ...] = (kept, None)
    for data, sink in zip((first, second), sinks, strict=True):
        (tmp_path / "f.bin").write_bytes(data)
        with open(tmp_path / "f.bin", "rb", buffering=0) as stream:
            result = analyse_stream(cast(BinaryIO, stream), ("md5",), lambda _: True, _tee(sink))
        assert result.digests == {"md5": hashlib.md5(data).digest()}
    assert b"".join(kept.chunks) == first
    assert len(digests._scratch.free) == 1  # one buffer, back with the thread


def test_head_then_digest_in_two_steps(tmp_path: Path) -> None:
    """``StreamRead``: the type and head before the rest is read; ``skipped`` reads no more."""
    data = _data(200_000)
    (tmp_path / "f.jpg").write_bytes(data)
    with open(tmp_path / "f.jpg", "rb", buffering=0) as stream:
        read = StreamRead(cast(BinaryIO, stream), limit=len(data))
        assert read.filetype.name == "jpeg" and read.head == data[:HEAD_BYTES]
        result = read.digest(("sha256", "md5"))
        read.close()
    assert list(result.digests or {}) == ["sha256", "md5"]
    assert result.digests == {"sha256": hashlib.sha256(data).digest(), "md5": hashlib.md5(data).digest()}
    with open(tmp_path / "f.jpg", "rb", buffering=0) as stream:
        read = StreamRead(cast(BinaryIO, stream), limit=len(data))
        skipped = read.skipped()
        read.close()
    assert skipped.digests is None and skipped.bytes_read == len(data)  # one chunk read for the head: all of it


@pytest.mark.parametrize("batched", [False, True])
def test_a_file_that_grew_is_read_to_its_listed_size(tmp_path: Path, batched: bool) -> None:
    data = _data(50_000)
    (tmp_path / "f.bin").write_bytes(data)
    batch = Md5Batch() if batched else None
    with open(tmp_path / "f.bin", "rb", buffering=0) as stream:
        result = analyse_stream(cast(BinaryIO, stream), ("md5", "sha1"), lambda _: True, limit=40_000, md5_batch=batch)
    if batch is not None:
        batch.finish()
    assert result.grew and result.bytes_read == 40_000
    assert result.digests == {"md5": hashlib.md5(data[:40_000]).digest(), "sha1": hashlib.sha1(data[:40_000]).digest()}


@pytest.mark.parametrize("batched", [False, True])
def test_a_file_that_shrank_is_hashed_as_read(tmp_path: Path, batched: bool) -> None:
    data = _data(30_000)
    (tmp_path / "f.bin").write_bytes(data)
    batch = Md5Batch() if batched else None
    with open(tmp_path / "f.bin", "rb", buffering=0) as stream:
        result = analyse_stream(cast(BinaryIO, stream), ("md5",), lambda _: True, limit=40_000, md5_batch=batch)
    if batch is not None:
        batch.finish()
    assert not result.grew and result.bytes_read == 30_000
    assert result.digests == {"md5": hashlib.md5(data).digest()}


def test_a_read_error_in_the_head_gives_the_buffer_back(tmp_path: Path) -> None:
    digests._scratch.free = []
    with open(tmp_path / "f.bin", "wb", buffering=0) as unreadable, pytest.raises(OSError, match="reading"):
        StreamRead(cast(BinaryIO, unreadable), limit=100)
    assert len(digests._scratch.free) == 1


def test_not_wanted_types_are_not_hashed() -> None:
    seen: list[FileType] = []

    def wants(filetype: FileType) -> bool:
        seen.append(filetype)
        return False

    result = analyse_stream(io.BytesIO(b"plain text " * 1000), ALGORITHMS, wants)
    assert result.digests is None and result.bytes_read == 11_000 and [t.name for t in seen] == ["unknown"]
