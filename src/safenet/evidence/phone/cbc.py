"""A seekable, streaming reader of an AES-CBC file with a zero IV and PKCS#7 padding (an encrypted iTunes backup's
files and its Manifest.db).

CBC decrypts any block from that block and the one before it, so the reader decrypts only what is read, seeks
anywhere, and never writes plaintext to disk: no temporary copy of a decrypted file is ever made, whatever its
size. The padding is checked when the file is opened (it is in the last block), which also gives the plaintext
size. A small file (up to ``SMALL``) is read in one call and decrypted whole in memory instead.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from safenet.evidence.streams import PositionedReader

BLOCK = 16
_MAX_READ = 4 << 20  # most ciphertext decrypted per read call
SMALL = 1 << 20  # files up to this size are decrypted whole in memory


class DecryptError(OSError):
    """The ciphertext is not whole AES blocks or its padding is wrong: a damaged file or the wrong key."""


class CbcReader(PositionedReader):
    """Plaintext of ``raw`` (ciphertext, owned: closed with the reader) under ``key``; reads any range."""

    def __init__(self, raw: BinaryIO, key: bytes) -> None:
        super().__init__()
        self._raw, self._key, self._pos = raw, key, 0
        self._next: tuple[int, CipherContext] | None = None  # where the last decryption stopped, and its decryptor
        self._enc_size = raw.seek(0, os.SEEK_END)
        if self._enc_size % BLOCK:
            raise DecryptError(f"encrypted size {self._enc_size} is not a multiple of {BLOCK} bytes")
        self._size = 0
        if self._enc_size:
            self._size = self._enc_size - _padding(self._decrypt(self._enc_size - BLOCK, self._enc_size))

    @property
    def size(self) -> int:
        return self._size

    def _decrypt(self, start: int, end: int) -> bytes:
        """Plaintext of ciphertext blocks ``[start, end)`` (block-aligned). A read that continues the previous
        one continues its decryptor: no IV to re-read, no new cipher context."""
        if self._next is not None and self._next[0] == start:
            decryptor = self._next[1]
            self._raw.seek(start)
        else:
            iv_at = start - BLOCK
            self._raw.seek(max(iv_at, 0))
            iv = self._raw.read(BLOCK) if iv_at >= 0 else bytes(BLOCK)
            if len(iv) != BLOCK:
                raise DecryptError("the encrypted file is shorter than it was when opened")
            decryptor = Cipher(algorithms.AES(self._key), modes.CBC(iv)).decryptor()
        data = self._raw.read(end - start)
        if len(data) != end - start:
            raise DecryptError("the encrypted file is shorter than it was when opened")
        self._next = (end, decryptor)
        return decryptor.update(data)

    def _end(self) -> int:
        return self._size

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos, _MAX_READ)
        if want <= 0:
            return 0
        start = self._pos - self._pos % BLOCK
        end = min(-(-(self._pos + want) // BLOCK) * BLOCK, self._enc_size)
        plain = self._decrypt(start, end)
        chunk = plain[self._pos - start : self._pos - start + want]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _padding(last_block: bytes) -> int:
    """How many bytes of PKCS#7 padding end the plaintext (checked)."""
    pad = last_block[-1]
    if not 1 <= pad <= BLOCK or last_block[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad padding after decryption (a damaged file, or a wrong key)")
    return pad


def decrypt_whole(data: bytes, key: bytes) -> bytes:
    """The plaintext of a whole small ciphertext, its padding checked and removed."""
    if len(data) % BLOCK:
        raise DecryptError(f"encrypted size {len(data)} is not a multiple of {BLOCK} bytes")
    if not data:
        return b""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(BLOCK))).decryptor()
    plain = decryptor.update(data)
    return plain[: len(plain) - _padding(plain[-BLOCK:])]


def open_decrypted(raw: BinaryIO, key: bytes) -> BinaryIO:
    """A seekable binary stream of ``raw``'s plaintext (``raw`` is closed with it, or at once when small).

    A file up to ``SMALL`` bytes is read in one call and decrypted in memory (most files of a phone are small:
    one read instead of four); a larger one is decrypted as it is read.
    """
    try:
        size = raw.seek(0, os.SEEK_END)
        if size <= SMALL:
            raw.seek(0)
            with raw:
                data = raw.read(size + 1)
            if len(data) != size:
                raise DecryptError("the encrypted file changed size while it was read")
            return io.BytesIO(decrypt_whole(data, key))
        reader = CbcReader(raw, key)
    except BaseException:
        raw.close()
        raise
    return io.BufferedReader(reader, buffer_size=1 << 20)
