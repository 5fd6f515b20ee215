"""Synthetic browser caches and phone thumbnail stores, written from the documented formats.

There is no browser-cache corpus, so these follow the layouts in Firefox's CacheFileMetadata.h/.cpp and
Chromium's simple_entry_format.h, blockfile/disk_format.h and addr.h (field offsets in the comments).
Bodies are benign Pillow pictures (tests.builders). The readers under test never check the hashes
Chrome and Firefox store (key hash, metadata hash, self_hash), so those are filled with stand-ins.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 256 * 1024


# --- Firefox cache2 -------------------------------------------------------------------------------------------
def firefox_entry(
    body: bytes,
    key: str,
    *,
    fetched: int = 1_700_000_000,
    modified: int = 1_700_000_100,
    version: int = 3,
    content_type: str = "image/jpeg",
) -> bytes:
    """One ``cache2/entries/<sha1>`` file: body, then metadata (big-endian), then the body length."""
    chunks = -(-len(body) // CHUNK)
    hashes = b"".join(struct.pack(">H", zlib.crc32(body[i * CHUNK : (i + 1) * CHUNK]) & 0xFFFF) for i in range(chunks))
    key_bytes = key.encode()
    # version | fetch count | last fetched | last modified | frecency | expiration | key length | flags (v2+)
    header = struct.pack(">7I", version, 3, fetched, modified, 12345, 0xFFFFFFFF, len(key_bytes))
    if version >= 2:
        header += struct.pack(">I", 0)
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    elements = (
        b"request-method\x00GET\x00response-head\x00" + head.encode() + b"\x00net-response-time-onstart\x0012\x00"
    )
    rest = hashes + header + key_bytes + b"\x00" + elements
    metadata = struct.pack(">I", zlib.crc32(rest)) + rest  # stand-in for CacheHash::Hash
    return body + metadata + struct.pack(">I", len(body))


# --- Chrome simple cache --------------------------------------------------------------------------------------
SIMPLE_INITIAL = 0xFCFB6D1BA7725C30
SIMPLE_FINAL = 0xF4FA6F45970D41D8


def simple_entry(
    body: bytes,
    key: str,
    *,
    headers: bytes = b"HTTP/1.1 200 OK\x00Content-Type: image/jpeg\x00\x00",
    with_sha: bool = True,
    final_magic: int = SIMPLE_FINAL,
) -> bytes:
    """One ``Cache_Data/<16 hex>_0`` file: header, key, stream 1, EOF, stream 0, [key SHA-256], EOF (little-endian)."""
    key_bytes = key.encode()
    header = struct.pack("<QIII4x", SIMPLE_INITIAL, 5, len(key_bytes), zlib.crc32(key_bytes))  # 24 bytes
    eof1 = struct.pack("<QIII4x", final_magic, 1, zlib.crc32(body), 0)  # FLAG_HAS_CRC32; size unused for stream 1
    sha = bytes(range(32)) if with_sha else b""  # stand-in for the key's SHA-256
    flags0 = 1 | (2 if with_sha else 0)
    eof0 = struct.pack("<QIII4x", SIMPLE_FINAL, flags0, zlib.crc32(headers), len(headers))
    return header + key_bytes + body + eof1 + headers + sha + eof0


SIMPLE_INDEX_MAGIC = 0x656E74657220796F  # "enter yo"


def simple_index(times: dict[int, int], *, version: int = 9, count: int | None = None, crc: int | None = None) -> bytes:
    """``index-dir/the-real-index`` (simple_index_file.cc): a base::Pickle of payload size u32 | CRC-32 u32,
    then magic u64 | version u32 | entry count u64 | cache size u64 | reason u32, then per entry
    hash u64 | last used i64 (microseconds since 1601) | packed size u64, then the cache's modified time i64."""
    meta = struct.pack("<QIQQI", SIMPLE_INDEX_MAGIC, version, len(times) if count is None else count, 4096, 0)
    entries = b"".join(struct.pack("<QqQ", key, used, 16) for key, used in times.items())
    payload = meta + entries + struct.pack("<q", 13_350_000_000_000_000)
    return struct.pack("<II", len(payload), zlib.crc32(payload) if crc is None else crc) + payload


# --- Chrome block-file cache ----------------------------------------------------------------------------------
INDEX_MAGIC = 0xC103CAC3
BLOCK_MAGIC = 0xC104CAC3
BLOCK_HEADER = 8192
TABLE_LEN = 0x10000
EXTERNAL, RANKINGS, BLOCK_256, BLOCK_1K, BLOCK_4K = 0, 1, 2, 3, 4
SIZES = {RANKINGS: 36, BLOCK_256: 256, BLOCK_1K: 1024, BLOCK_4K: 4096}


def block_addr(file_type: int, file_number: int, start: int, blocks: int = 1) -> int:
    """addr.h: initialised bit 31 | type bits 28-30 | blocks-1 bits 24-25 | file bits 16-23 | start bits 0-15."""
    return 0x80000000 | file_type << 28 | (blocks - 1) << 24 | file_number << 16 | start


def external_addr(number: int) -> int:
    return 0x80000000 | number  # type 0 (external): bits 0-27 the f_ file number


@dataclass
class BlockFile:
    file_type: int
    number: int
    blocks: list[bytes] = field(default_factory=list)  # each exactly one block
    used: list[int] = field(default_factory=list)  # block numbers to mark in the bitmap

    def add(self, data: bytes, *, mark: bool = True) -> tuple[int, int]:
        """Store data in consecutive blocks; (first block, block count)."""
        size = SIZES[self.file_type]
        count = max(1, -(-len(data) // size))
        start = len(self.blocks)
        padded = data.ljust(count * size, b"\x00")
        self.blocks.extend(padded[i * size : (i + 1) * size] for i in range(count))
        if mark:
            self.used.extend(range(start, start + count))
        return start, count

    def bytes(self) -> bytes:
        bitmap = bytearray(2028 * 4)
        for block in self.used:
            bitmap[block // 8] |= 1 << (block % 8)
        # magic | version | this_file i16 | next_file i16 | entry_size | num_entries | max_entries
        head = struct.pack("<IIhhiii", BLOCK_MAGIC, 0x30000, self.number, 0, SIZES[self.file_type], len(self.used), 0)
        head += bytes(80 - len(head)) + bitmap  # empty[4], hints[4], updating, user[5], then the bitmap at 80
        assert len(head) == BLOCK_HEADER
        return head + b"".join(self.blocks)


def entry_store(
    key: str, body_size: int, body_addr: int, *, head_size: int = 0, head_addr: int = 0, next_addr: int = 0
) -> bytes:
    """EntryStore (256 bytes): hash, next, rankings, reuse, refetch, state, creation, key_len, long_key,
    data_size[4] @40, data_addr[4] @56, flags @72, pad[4], self_hash @92, key[160] @96."""
    key_bytes = key.encode()
    assert len(key_bytes) < 160
    rankings = block_addr(RANKINGS, 0, 1)
    created = 13_350_000_000_000_000  # microseconds since 1601: 2024-01-16
    return struct.pack(
        "<IIIiiiQiI4i4II4iI160s",
        zlib.crc32(key_bytes),  # stand-in for base::PersistentHash
        next_addr,
        rankings,
        1,
        0,
        0,
        created,
        len(key_bytes),
        0,
        head_size,
        body_size,
        0,
        0,
        head_addr,
        body_addr,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        key_bytes,
    )


@dataclass
class BlockfileCache:
    """A blockfile cache folder: index, data_0..data_3 and f_ files, built entry by entry."""

    data: dict[int, BlockFile] = field(
        default_factory=lambda: {
            0: BlockFile(RANKINGS, 0),
            1: BlockFile(BLOCK_256, 1),
            2: BlockFile(BLOCK_1K, 2),
            3: BlockFile(BLOCK_4K, 3),
        }
    )
    external: dict[int, bytes] = field(default_factory=dict)
    entries: list[int] = field(default_factory=list)  # entry addresses for the index

    def store(self, body: bytes) -> int:
        """Put a body where Chrome would (Addr::RequiredFileType): < 1 KiB data_1, < 4 KiB data_2,
        <= 16 KiB data_3, else an external f_ file. Returns its address."""
        if len(body) > 16384:
            number = len(self.external) + 1
            self.external[number] = body
            return external_addr(number)
        number = 1 if len(body) < 1024 else 2 if len(body) < 4096 else 3
        start, count = self.data[number].add(body)
        return block_addr(self.data[number].file_type, number, start, count)

    def add(self, url: str, body: bytes, *, key_prefix: str = "", content_type: str = "image/jpeg") -> int:
        """One entry: headers (stream 0, raw NUL-separated lines) and body (stream 1); returns its data_1 block."""
        headers = f"HTTP/1.1 200 OK\x00Content-Type: {content_type}\x00\x00".encode()
        head_addr = self.store(headers)
        body_addr = self.store(body)
        self.data[0].add(bytes(36))  # its rankings node (not read by Safenet)
        raw = entry_store(key_prefix + url, len(body), body_addr, head_size=len(headers), head_addr=head_addr)
        start, _ = self.data[1].add(raw)
        self.entries.append(block_addr(BLOCK_256, 1, start))
        return start

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        table = [0] * TABLE_LEN
        for addr, raw in zip(self.entries, self._entry_blocks(), strict=True):
            table[struct.unpack_from("<I", raw, 0)[0] & (TABLE_LEN - 1)] = addr
        # IndexHeader: magic | version | num_entries | num_bytes | last_file | this_id | stats | table_len
        # | crash | experiment | create_time u64 | pad[52] (256 bytes), then LruData (112 bytes), then the table
        header = struct.pack("<IIiiiiIiiiQ", INDEX_MAGIC, 0x30000, len(self.entries), 0, 3, 1, 0, TABLE_LEN, 0, 0, 0)
        header = header.ljust(256, b"\x00") + bytes(112)
        (folder / "index").write_bytes(header + struct.pack(f"<{TABLE_LEN}I", *table))
        for number, block_file in self.data.items():
            (folder / f"data_{number}").write_bytes(block_file.bytes())
        for number, body in self.external.items():
            (folder / f"f_{number:06x}").write_bytes(body)
        return folder

    def _entry_blocks(self) -> list[bytes]:
        return [self.data[1].blocks[addr & 0xFFFF] for addr in self.entries]


# --- Android thumbdata ----------------------------------------------------------------------------------------
def thumbdata(pictures: list[bytes], slot: int = 10000) -> bytes:
    """MiniThumbFile: fixed slots of flag u8 (1) | id u64 | length u32 | JPEG, zero-padded (big-endian)."""
    out = b""
    for number, data in enumerate(pictures):
        record = struct.pack(">BQI", 1, 0x1234_5678_0000 + number, len(data)) + data
        assert len(record) <= slot
        out += record.ljust(slot, b"\x00")
    return out
