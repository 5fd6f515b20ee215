"""Plain hash lists: md5sum/sha1sum/sha256sum output, BSD tag lines and bare one-hash-per-line lists.

These are the most common "hash set" anyone hands over, and the least specified, so each line is tried
against the known shapes (docs/formats.md, plain hash lists):

- GNU ``<hex>  name`` (text mode) and ``<hex> *name`` (binary mode); a leading ``\\`` means the name is
  escaped (``\\\\``, ``\\n``, ``\\r``).
- BSD / ``--tag`` ``MD5 (name) = <hex>``.
- bare ``<hex>``, optionally after a first line naming the algorithm (``MD5``, ``SHA-1``, ``SHA256``,
  ``ED2K``, ``BTIH``), as X-Ways writes them. Without that line the algorithm follows from the length (which
  never names ED2K or BTIH: they are as long as MD5 and SHA-1).
- P2P links, one per line: ``ed2k://|file|name|size|HASH|/`` (eMule), ``magnet:?xt=urn:btih:HASH&dn=name``
  (a torrent's info-hash, hex or base32) and ``urn:sha1:BASE32 [name]`` (Gnutella's SHA-1).

Big lists go through a numpy fast path for lines that start with a fixed-width digest.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from safenet.hashsets.formats.base import (
    HEAD_SIZE,
    LONG_LINE,
    BulkDigests,
    HashSetFormat,
    LineBlock,
    clip,
    decode_hex_rows,
    iter_line_blocks,
    iter_lines,
    parse_count,
    parse_hex,
    strip_bom,
)
from safenet.hashsets.model import LENGTH_KINDS, HashKind, HashRecord, SetKind, WarnFn

_TAG_RE = re.compile(r"^(?P<algo>[A-Za-z0-9-]+) ?\((?P<name>.*)\) ?= ?(?P<hex>\S*)$")
_GNU_RE = re.compile(r"^(?P<hex>[0-9A-Fa-f]+) (?P<mode>[ *])(?P<name>.*)$")
_LOOSE_RE = re.compile(r"^(?P<hex>[0-9A-Fa-f]+)(?:\s+(?P<name>.*))?$")
_ESCAPE_RE = re.compile(r"\\(.)")
_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r"}
_ALGORITHMS = {
    "MD5": HashKind.MD5,
    "SHA1": HashKind.SHA1,
    "SHA256": HashKind.SHA256,
    "SHA2256": HashKind.SHA256,  # cksum -a sha2 --length 256 writes "SHA2-256"
    "ED2K": HashKind.ED2K,
    "BTIH": HashKind.BTIH,
}
_ED2K_RE = re.compile(r"^ed2k://\|file\|(?P<name>[^|]*)\|(?P<size>[0-9]{1,20})\|(?P<hex>[0-9A-Fa-f]{32})\|", re.I)
_URN_SHA1_RE = re.compile(r"^(?P<urn>urn:sha1:\S+)(?:\s+(?P<name>.*))?$", re.I)
_SUPPORTED_TEXT = "MD5, SHA-1, SHA-256, ED2K and BTIH only"
_UNSUPPORTED = {"SHA224", "SHA384", "SHA512", "SHA2224", "SHA2384", "SHA2512", "MD4", "BLAKE2B", "SM3", "CRC"}
_SNIFF_LINES = 20


def _algorithm_word(text: str) -> str:
    return text.strip().upper().replace("-", "").replace("_", "")


class _LineParser:
    """Parses one line at a time; knows the algorithm named by the file's first line, if any."""

    def __init__(self, header: HashKind | None, header_line: int | None) -> None:
        self.header = header
        self.header_line = header_line

    @classmethod
    def for_head(cls, head: bytes) -> _LineParser:
        """Find an algorithm line: only the first non-blank, non-comment line of the file counts."""
        for number, raw in enumerate(strip_bom(head).split(b"\n"), 1):
            text = raw.decode("utf-8", errors="replace").strip()
            if not text or text.startswith("#"):
                continue
            kind = _ALGORITHMS.get(_algorithm_word(text))
            return cls(kind, number if kind is not None else None)
        return cls(None, None)

    def parse(self, raw: bytes, number: int) -> HashRecord | str | None:
        """A record, a reason why the line is bad, or None for a line to pass over silently."""
        text = raw.decode("utf-8", errors="backslashreplace")
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        stripped = text.strip()
        if not stripped or stripped.startswith("#") or number == self.header_line:
            return None
        if _algorithm_word(stripped) in _ALGORITHMS:
            return f"algorithm line '{clip(stripped)}' only counts as the first line of the list; skipped"
        link = _p2p_link(stripped, number)
        if link is not None:
            return link
        escaped = text.startswith("\\")
        body = text[1:] if escaped else text
        tag = _TAG_RE.match(body)
        if tag is not None:
            return self._tagged(tag, escaped, number)
        line = _GNU_RE.match(body) or _LOOSE_RE.match(body.strip())
        if line is None or len(line.group("hex")) < 2 * HashKind.MD5.size:
            return f"not a hash line: '{clip(stripped)}'; skipped"
        name = line.group("name")
        return self._record(line.group("hex"), self.header, name, escaped, number)

    def _tagged(self, tag: re.Match[str], escaped: bool, number: int) -> HashRecord | str:
        word = _algorithm_word(tag.group("algo"))
        kind = _ALGORITHMS.get(word)
        if kind is None:
            if word in _UNSUPPORTED:
                return f"{clip(tag.group('algo'))} digests are not supported ({_SUPPORTED_TEXT}); skipped"
            return f"unknown algorithm '{clip(tag.group('algo'))}'; skipped"
        return self._record(tag.group("hex"), kind, tag.group("name"), escaped, number)

    def _record(
        self, hex_text: str, kind: HashKind | None, name: str | None, escaped: bool, number: int
    ) -> HashRecord | str:
        if kind is None and len(hex_text) == 128:
            return f"SHA-512 digests are not supported ({_SUPPORTED_TEXT}); skipped"
        parsed = parse_hex(hex_text, kind)
        if isinstance(parsed, str):
            return f"{parsed}; skipped"
        found, digest = parsed
        if name is not None and escaped:
            name = _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), name)
        return _one_digest(found, digest, name or None, None, number)


def _one_digest(kind: HashKind, digest: bytes, name: str | None, size: int | None, number: int) -> HashRecord:
    return HashRecord(
        md5=digest if kind is HashKind.MD5 else None,
        sha1=digest if kind is HashKind.SHA1 else None,
        sha256=digest if kind is HashKind.SHA256 else None,
        ed2k=digest if kind is HashKind.ED2K else None,
        btih=digest if kind is HashKind.BTIH else None,
        category=None,
        size=size,
        name=name,
        ref=f"line {number}",
    )


def _p2p_link(text: str, number: int) -> HashRecord | str | None:
    """An ``ed2k://|file|...`` link, a ``magnet:`` link with a BitTorrent info-hash, or a ``urn:sha1:`` line;
    None when the line is none of these."""
    lowered = text[:10].lower()
    if lowered.startswith("ed2k://"):
        link = _ED2K_RE.match(text)
        if link is None:
            return f"ed2k link '{clip(text)}' is not ed2k://|file|name|size|32 hex digits|/; skipped"
        name = unquote(link.group("name"), errors="backslashreplace") or None
        return _one_digest(HashKind.ED2K, bytes.fromhex(link.group("hex")), name, int(link.group("size")), number)
    if lowered.startswith("magnet:?"):
        return _magnet(text, number)
    if lowered.startswith("urn:sha1:"):
        urn = _URN_SHA1_RE.match(text)
        parsed = parse_hex(urn.group("urn"), HashKind.SHA1) if urn is not None else "empty digest"
        if isinstance(parsed, str):
            return f"{parsed}; skipped"
        return _one_digest(HashKind.SHA1, parsed[1], (urn.group("name") or None) if urn else None, None, number)
    return None


def _magnet(text: str, number: int) -> HashRecord | str:
    """``magnet:?xt=urn:btih:<40 hex or 32 base32>&dn=<name>&xl=<size>`` (BEP 9)."""
    query = parse_qs(urlsplit(text).query, errors="backslashreplace")
    for topic in query.get("xt", []):
        if topic[:9].lower() != "urn:btih:":
            continue
        value = topic[9:]
        digest = _btih(value)
        if digest is None:
            return f"magnet info-hash '{clip(value)}' is not 40 hex digits or 32 base32 letters; skipped"
        names, sizes = query.get("dn", []), query.get("xl", [])
        size = parse_count(sizes[0]) if sizes else None
        return _one_digest(HashKind.BTIH, digest, names[0] if names else None, size, number)
    return f"magnet link '{clip(text)}' has no urn:btih info-hash; skipped"


def _btih(value: str) -> bytes | None:
    if len(value) == 40:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return None
    if len(value) == 32:
        try:
            return base64.b32decode(value.upper())
        except (binascii.Error, ValueError):
            return None
    return None


class HashListFormat(HashSetFormat):
    """md5sum / sha1sum / sha256sum (GNU and BSD tag) output and bare hash lists."""

    NAME: ClassVar[str] = "hashlist"
    DEFAULT_KIND: ClassVar[SetKind | None] = None
    DESCRIPTION: ClassVar[str] = "md5sum/sha1sum/sha256sum output, BSD tag lines or one hash per line"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """The first hash line must parse, and most of the next ones; binary data never does."""
        if b"\x00" in head:
            return False
        parser = _LineParser.for_head(head)
        lines = strip_bom(head).split(b"\n")
        if len(head) >= HEAD_SIZE and len(lines) > 1:
            lines = lines[:-1]  # probably cut in the middle
        good = bad = 0
        for number, raw in enumerate(lines, 1):
            result = parser.parse(raw.rstrip(b"\r"), number)
            if isinstance(result, str):
                if good == 0:
                    return False
                bad += 1
            elif result is not None:
                good += 1
            if good + bad >= _SNIFF_LINES:
                break
        return good > bad

    def read(self, path: Path, warn: WarnFn) -> Iterator[HashRecord]:
        parser = _LineParser.for_head(_head(path))
        for number, raw in iter_lines(path, warn):
            result = parser.parse(raw, number)
            if isinstance(result, str):
                warn(f"line {number}", result)
            elif result is not None:
                yield result

    def read_bulk(self, path: Path, warn: WarnFn) -> Iterator[HashRecord | BulkDigests]:
        """Lines starting with a fixed-width digest are decoded in numpy; the rest go line by line."""
        parser = _LineParser.for_head(_head(path))
        kinds = [parser.header] if parser.header is not None else list(LENGTH_KINDS)
        for block in iter_line_blocks(path, warn):
            yield from _fast_block(block, kinds, parser, warn)


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_SIZE)


def _fast_block(
    block: LineBlock, kinds: list[HashKind], parser: _LineParser, warn: WarnFn
) -> Iterator[HashRecord | BulkDigests]:
    """Bare ``<hex>`` and GNU ``<hex>  name`` / ``<hex> *name`` lines in numpy, the rest line by line.

    The digest width of a line is the distance to its first space (or its end), so each line is decoded
    once, at the one width it can have.
    """
    lengths = block.ends - block.starts
    spaces = np.append(np.flatnonzero(block.data == ord(" ")), block.data.shape[0])  # with a sentinel
    first_space = np.minimum(spaces[np.searchsorted(spaces, block.starts)], block.ends)
    width = first_space - block.starts
    mode = block.data[np.minimum(first_space + 1, block.data.shape[0] - 1)]
    gnu = (width + 2 <= lengths) & ((mode == ord(" ")) | (mode == ord("*")))
    shaped = (width == lengths) | gnu
    done = np.zeros(lengths.shape[0], dtype=np.bool_)
    for kind in kinds:
        rows = np.flatnonzero(shaped & (width == 2 * kind.size))
        if rows.size == 0:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(block.data, 2 * kind.size)
        digests, ok = decode_hex_rows(windows[block.starts[rows]])
        done[rows[ok]] = True
        if ok.any():
            yield BulkDigests({kind: digests[ok]})
    for index in np.flatnonzero(~done):
        number = block.first_line + int(index)
        line = block.line(int(index))
        result = parser.parse(line, number) if line is not None else LONG_LINE
        if isinstance(result, str):
            warn(f"line {number}", result)
        elif result is not None:
            yield result
