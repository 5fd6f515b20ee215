"""The eDonkey2000 / eMule file hash (ED2K), and the Gnutella form of SHA-1.

P2P clients name files by these hashes, and hash sets from P2P investigations carry them, so every hashed item
can have its ED2K computed in the same read as its other digests (``analysis.digests``).

ED2K: the file is cut into chunks of 9 728 000 bytes (9 500 KiB). A file shorter than one chunk hashes to the
MD4 of its bytes (the empty file: MD4 of nothing, ``31d6cfe0...``). Otherwise the hash is the MD4 of the
concatenated MD4s of the chunks. **Exact multiples** of the chunk size follow eMule (the original eDonkey2000
rule, sometimes called the "red" hash): a final empty chunk is counted, so its MD4 (the MD4 of nothing) is
appended to the list. A file of exactly one chunk therefore hashes to MD4(MD4(chunk) + MD4("")), not to
MD4(chunk). (Some other clients leave the empty chunk out for exact multiples; their hash differs only for
those sizes.)

MD4 comes from pycryptodome: OpenSSL 3 no longer offers MD4 to ``hashlib``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any


def _new_md4() -> Any:
    """A new MD4 (pycryptodome's: OpenSSL 3 no longer offers MD4 to ``hashlib``).

    Imported at the first ED2K, not with this module: pycryptodome loads cffi and its C parser (tens of
    milliseconds), which a triage without ED2K digests never needs. MD4 is broken for security; ED2K is
    defined on it, and here it only names content the way P2P clients do."""
    from Crypto.Hash import MD4

    return MD4.new()  # noqa: S303 - ED2K is defined on MD4 (see above)


CHUNK_SIZE = 9_728_000
DIGEST_SIZE = 16
_URN_SHA1 = "urn:sha1:"


class Ed2kHash:
    """Incremental ED2K, shaped like a ``hashlib`` object (``update``, ``digest``, ``hexdigest``, ``copy``).

    Memory: one MD4 state for the current chunk and one over the finished chunks' digests, whatever the size.
    """

    name = "ed2k"
    digest_size = DIGEST_SIZE

    def __init__(self, data: bytes = b"") -> None:
        self._chunk = _new_md4()
        self._chunks: Any = None  # MD4 over the digests of the finished chunks, from the first one finished
        self._filled = 0  # bytes in the current chunk
        self._finished = 0  # chunks finished
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            take = min(len(view), CHUNK_SIZE - self._filled)
            self._chunk.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == CHUNK_SIZE:
                if self._chunks is None:  # most files are one chunk: an MD4 made per file costs microseconds
                    self._chunks = _new_md4()
                self._chunks.update(self._chunk.digest())
                self._chunk = _new_md4()
                self._filled = 0
                self._finished += 1

    def digest(self) -> bytes:
        """The ED2K of everything given so far (the object can still be updated afterwards)."""
        if self._finished == 0:
            return bytes(self._chunk.digest())  # pycryptodome's digest() leaves the state as it was
        # The current chunk's MD4 closes the list: a partial chunk, or for an exact multiple the empty
        # chunk eMule counts (MD4 of nothing).
        outer = self._chunks.copy()
        outer.update(self._chunk.copy().digest())
        return bytes(outer.digest())

    def hexdigest(self) -> str:
        return self.digest().hex()

    def copy(self) -> Ed2kHash:
        twin = Ed2kHash()
        twin._chunk = self._chunk.copy()
        twin._chunks = self._chunks.copy() if self._chunks is not None else None
        twin._filled = self._filled
        twin._finished = self._finished
        return twin


def ed2k(data: bytes) -> bytes:
    """The ED2K of a byte string (for small data; stream large files through ``Ed2kHash``)."""
    return Ed2kHash(data).digest()


def ed2k_link(name: str, size: int, digest: bytes) -> str:
    """An ``ed2k://|file|NAME|SIZE|HASH|/`` link (the form eMule copies to the clipboard)."""
    return f"ed2k://|file|{name}|{size}|{digest.hex().upper()}|/"


def gnutella_sha1(digest: bytes) -> str:
    """A SHA-1 written as Gnutella and Shareaza write it: ``urn:sha1:`` + 32 base32 letters."""
    return _URN_SHA1 + base64.b32encode(digest).decode("ascii")


def parse_gnutella_sha1(text: str) -> bytes | None:
    """The 20 bytes of a ``urn:sha1:BASE32`` text (prefix and letters in any case), or None if it is not one."""
    value = text.strip()
    if value[: len(_URN_SHA1)].lower() != _URN_SHA1:
        return None
    body = value[len(_URN_SHA1) :].upper()
    if len(body) != 32:
        return None
    try:
        digest = base64.b32decode(body)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 20 else None
