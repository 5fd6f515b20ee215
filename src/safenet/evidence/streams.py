"""One adapter from any file-like reader to a real ``io`` object.

dfVFS file objects, archive member streams and chains of containers are file-like but not ``io`` classes,
while the pipeline (buffered reads), py7zr (``io.IOBase`` checks) and ``open_locator`` (closing a member
must close the containers beneath it) need one. Seeking is passed through when the inner reader has it.
"""

from __future__ import annotations

import errno
import io
from collections.abc import Sequence
from typing import Any


class RawReader(io.RawIOBase):
    """Reads ``inner``; closing it also closes ``owned`` (e.g. the containers a member was opened from)."""

    def __init__(self, inner: Any, owned: Sequence[Any] = ()) -> None:
        super().__init__()
        self._inner = inner
        self._owned = list(owned)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        seekable = getattr(self._inner, "seekable", None)
        return bool(seekable()) if callable(seekable) else hasattr(self._inner, "seek")

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        moved = self._inner.seek(offset, whence)
        return int(moved) if moved is not None else self.tell()  # dfVFS file objects' seek returns None

    def tell(self) -> int:
        return int(self._inner.tell())

    def close(self) -> None:
        if not self.closed:
            for stream in reversed(self._owned):
                stream.close()
        super().close()


class SizedReader(io.RawIOBase):
    """Base for random-access readers of a known size: position bookkeeping here, ``readinto`` in the subclass."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


class PositionedReader(io.RawIOBase):
    """A raw reader that keeps its own position (``_pos``) over content of a known length (``_end()``):
    ``readinto`` reads at ``_pos`` and moves it; seeking only moves it, as a file's does."""

    _pos: int = 0

    def _end(self) -> int:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._end() + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if target < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = target
        return target
