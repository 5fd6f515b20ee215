"""Chrome / Edge block-file cache (the older disk cache: ``index``, ``data_0``..``data_3``, ``f_xxxxxx``).

The cache is a folder; an item producer is handed one file and reopens its items from that file alone.
A top-level block file is also given its folder's other files (``siblings``), so the entries in
``data_1`` can name the bodies kept in ``data_2``/``data_3`` (all integers little-endian;
``net/disk_cache/blockfile/disk_format.h`` and ``addr.h``)::

    data_N header (8192 bytes)  magic u32 0xC104CAC3 | version u32 | this_file i16 | next_file i16
                                | entry_size i32 | num_entries i32 | max_entries i32 | empty[4] | hints[4]
                                | updating i32 | user[5] | allocation bitmap (2028 x u32, one bit per block)
    then blocks of entry_size bytes: 36 (data_0, rankings), 256 (data_1, entries), 1024 (data_2), 4096 (data_3)

    EntryStore (256-byte blocks of data_1; a long key may run on into up to 3 more blocks)
      0 hash u32 | 4 next addr | 8 rankings_node addr | 12 reuse_count i32 | 16 refetch_count i32
      | 20 state i32 (0 normal, 1 evicted, 2 doomed) | 24 creation_time u64 (microseconds since 1601, UTC)
      | 32 key_len i32 | 36 long_key addr | 40 data_size[4] i32 | 56 data_addr[4] | 72 flags u32
      | 76 pad[4] | 92 self_hash u32 | 96 key (160 bytes, NUL-terminated)
    Stream 0 holds the HTTP headers, stream 1 the body.

    cache address u32: bit 31 initialised | bits 28-30 file type (0 external f_ file, 1 rankings,
      2 256-byte blocks, 3 1 KiB, 4 4 KiB) | external: bits 0-27 the f_ file number (f_%06x)
      | block files: bits 24-25 block count - 1 | bits 16-23 data_N file number | bits 0-15 first block

What is covered, and how:

* ``data_1`` (and any later file of 256-byte blocks): every block is tried as an EntryStore; one is
  taken when its rankings address is an initialised rankings address and its state and key length are
  possible. The walk is linear and bounded by the file size, so entries the ``index`` no longer lists
  (evicted, not yet overwritten) are found too, and no hash chain is followed (a chain loop cannot
  trap it). An entry whose body lies in this same file becomes an item with its URL and creation
  time (the last-used time is in ``data_0``'s rankings node, which is not read).
* An entry whose body lies in another file (``data_2``, ``data_3``, an ``f_xxxxxx`` file) is not
  yielded from ``data_1``: that file is examined on its own. ``f_`` files are the body exactly and are
  hashed whole as plain files (yielding them from ``data_1`` too would report, and charge, the same
  picture twice), so their URLs are listed in one "cache-body-elsewhere" warning per ``data_1``, with
  those of bodies in a ``data_2``/``data_3`` that is not there to be read beside it (no siblings: a
  cache inside an archive, a deleted file).
* ``data_2``, ``data_3`` (1 KiB and 4 KiB blocks; and files chained after them) with siblings:
  ``data_1`` and the 256-byte files chained after it (``next_file``; at most :data:`ENTRY_FILES` files
  of at most :data:`MAX_ENTRY_FILE` bytes) are walked as above, once per block file, and every entry
  whose body address points into THIS file becomes an item with its URL and creation time (where two
  records claim the same blocks, the one in data_1's bitmap, in state normal, newest, wins). Its
  locator is this file › CACHE_ENTRY(byte range), so it reopens without ``data_1``.
* Then (and without siblings, for all of the file) pictures at block starts not covered by a known
  entry are found with the structural carver at block alignment (at most 4 blocks each), with no URL:
  bodies of evicted entries whose records are gone. Nothing is reported twice.
* ``index`` and ``data_0`` are not needed for any of this and are not read.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from safenet.analysis.filetype import HEAD_BYTES
from safenet.evidence.archives.common import seekable_copy
from safenet.evidence.caches.common import (
    CacheLimits,
    chrome_time,
    chrome_url,
    is_media,
    media_head,
    range_locator,
    read_exactly,
    stream_size,
    url_name,
    window,
)
from safenet.evidence.carve.model import CarveLimits
from safenet.evidence.carve.scan import CarveLimitReached, carve
from safenet.evidence.locator import display_safe
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, WarningSink
from safenet.reasons import reason_of

DETAIL = "chrome-blockfile"
BLOCK_MAGIC = 0xC104CAC3
HEADER_SIZE = 8192
BLOCK_HEADER = struct.Struct("<IIhhiii")  # magic, version, this_file, next_file, entry_size, num, max
ENTRY = struct.Struct("<IIIiiiQiI4i4II4iI160s")  # EntryStore, 256 bytes
ENTRY_SIZE = 256
KEY_OFFSET = 96
MAX_BLOCKS = 4  # a block-file record spans 1 to 4 blocks
MAX_LISTED = 50  # bodies elsewhere named in the warning
ENTRY_FILES = 8  # data_1 and the 256-byte files chained after it, read beside a data_2 / data_3
MAX_ENTRY_FILE = HEADER_SIZE + 2028 * 32 * ENTRY_SIZE  # the bitmap's 64 896 blocks: Chrome's largest block file
_STATES = ("normal", "evicted", "doomed")
_NAME = re.compile(r"^data_\d+$")
_BLOCK_SIZES = {1: 36, 2: 256, 3: 1024, 4: 4096}
_EXTERNAL, _RANKINGS = 0, 1


@dataclass(frozen=True, slots=True)
class Address:
    """A decoded cache address."""

    raw: int

    @property
    def initialised(self) -> bool:
        return bool(self.raw & 0x80000000)

    @property
    def file_type(self) -> int:
        return (self.raw >> 28) & 7

    @property
    def blocks(self) -> int:
        return ((self.raw >> 24) & 3) + 1

    @property
    def file_number(self) -> int:
        return self.raw & 0x0FFFFFFF if self.file_type == _EXTERNAL else (self.raw >> 16) & 0xFF

    @property
    def start_block(self) -> int:
        return self.raw & 0xFFFF

    @property
    def block_size(self) -> int | None:
        return _BLOCK_SIZES.get(self.file_type)

    def place(self) -> str:
        if self.file_type == _EXTERNAL:
            return f"f_{self.file_number:06x}"
        return f"data_{self.file_number} block {self.start_block}"


@dataclass(frozen=True, slots=True)
class Entry:
    block: int
    state: int
    created: int
    key: str
    data_size: tuple[int, int, int, int]
    data_addr: tuple[Address, Address, Address, Address]
    allocated: bool


def is_block_file(name: str) -> bool:
    return _NAME.match(name) is not None


def expand_blockfile(
    parent: Item,
    open_parent: Callable[[], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits | None = None,
    siblings: Callable[[str], BinaryIO] | None = None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Yield the pictures a block file holds (see the module docstring). Bad data becomes warnings;
    ``siblings`` opens the folder's other files (None: this file alone)."""
    limits = limits if limits is not None else CacheLimits()
    with open_parent() as opened:
        stream = seekable_copy(opened)
        size = stream_size(stream)
        head = stream.read(HEADER_SIZE) if size >= BLOCK_HEADER.size else b""
        if len(head) < BLOCK_HEADER.size or BLOCK_HEADER.unpack_from(head)[0] != BLOCK_MAGIC:
            return  # a file that is merely called data_N
        _magic, _version, this_file, _next, entry_size, _num, _max = BLOCK_HEADER.unpack_from(head)
        if len(head) < HEADER_SIZE:
            message = f"block file of {size} bytes is shorter than its {HEADER_SIZE}-byte header; not examined"
            warn(EvidenceWarning("cache-corrupt", message, parent.locator))
        elif entry_size == ENTRY_SIZE:
            yield from _entries(parent, stream, size, head, this_file, warn, limits, siblings)
        elif entry_size in (1024, 4096):
            covered: set[int] = set()
            why = ""
            if siblings is not None:
                known, why = _known(parent, stream, size, head, this_file, entry_size, siblings, warn, limits)
                for item, offset, blocks in known:
                    covered.update(blocks)
                    if item is not None:
                        yield item, window(stream, offset, item.size or 0)
            yield from _carved(parent, stream, size, entry_size, warn, covered, siblings is not None, why)
        elif entry_size != _BLOCK_SIZES[_RANKINGS]:
            warn(EvidenceWarning("cache-corrupt", f"block size {entry_size} is not one Chrome uses", parent.locator))


def _walk(stream: BinaryIO, size: int, head: bytes, limits: CacheLimits) -> Iterator[Entry]:
    """Each block of a 256-byte block file that holds a plausible EntryStore (linear, bounded)."""
    bitmap = head[80:HEADER_SIZE]
    blocks = min((size - HEADER_SIZE) // ENTRY_SIZE, limits.max_entries)
    for block in range(blocks):
        raw = read_exactly(stream, HEADER_SIZE + block * ENTRY_SIZE, ENTRY_SIZE)
        fields = ENTRY.unpack(raw)
        rankings, state, created, key_len, long_key = Address(fields[2]), fields[5], fields[6], fields[7], fields[8]
        if not (rankings.initialised and rankings.file_type == _RANKINGS and state in (0, 1, 2) and key_len > 0):
            continue
        key = _key(stream, size, block, key_len, Address(long_key), raw)
        sizes = (fields[9], fields[10], fields[11], fields[12])
        addrs = (Address(fields[13]), Address(fields[14]), Address(fields[15]), Address(fields[16]))
        allocated = block // 8 < len(bitmap) and bool(bitmap[block // 8] >> (block % 8) & 1)
        yield Entry(block, state, created, key, sizes, addrs, allocated)


def _key(stream: BinaryIO, size: int, block: int, key_len: int, long_key: Address, raw: bytes) -> str:
    """The entry's key: inline (running on into the entry's next blocks when long), or a note where it is."""
    if long_key.raw == 0:
        start = HEADER_SIZE + block * ENTRY_SIZE + KEY_OFFSET
        length = min(key_len, MAX_BLOCKS * ENTRY_SIZE - KEY_OFFSET, size - start)
        data = (
            raw[KEY_OFFSET : KEY_OFFSET + length]
            if length <= ENTRY_SIZE - KEY_OFFSET
            else read_exactly(stream, start, length)
        )
        return data.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
    return f"(long key of {key_len} bytes stored at {long_key.place()}; not read)"


def _body_range(entry: Entry, this_file: int, size: int) -> tuple[int, int] | str | None:
    """Where stream 1 lies: (offset, length) in this file, the place elsewhere (str), or None (no body).

    Raises ValueError with the reason when the address or size points outside what the file holds."""
    length, addr = entry.data_size[1], entry.data_addr[1]
    if length <= 0 or not addr.initialised:
        return None
    if addr.file_type == _EXTERNAL or addr.file_number != this_file:
        return addr.place()
    if addr.block_size != ENTRY_SIZE:
        raise ValueError(f"body address {addr.raw:#010x} names data_{this_file} with the wrong block size")
    offset = HEADER_SIZE + addr.start_block * ENTRY_SIZE
    if length > addr.blocks * ENTRY_SIZE or offset + length > size:
        where = f"{length} bytes at block {addr.start_block} ({addr.blocks} blocks)"
        raise ValueError(f"body of {where} lies outside its blocks or the file ({size} bytes)")
    return offset, length


def _content_type(stream: BinaryIO, entry: Entry, this_file: int, size: int) -> bytes | None:
    """The Content-Type (lower case) in the entry's stored headers (stream 0) when they lie in this file."""
    length, addr = entry.data_size[0], entry.data_addr[0]
    if not addr.initialised or addr.file_type != 2 or addr.file_number != this_file or length <= 0:
        return None
    offset = HEADER_SIZE + addr.start_block * ENTRY_SIZE
    if length > addr.blocks * ENTRY_SIZE or offset + length > size:
        return None
    headers = read_exactly(stream, offset, length).lower()
    found = headers.find(b"\x00content-type:")
    if found < 0:
        return None
    return headers[found + 14 :].split(b"\x00", 1)[0].strip()


def _entries(
    parent: Item,
    stream: BinaryIO,
    size: int,
    head: bytes,
    this_file: int,
    warn: WarningSink,
    limits: CacheLimits,
    siblings: Callable[[str], BinaryIO] | None,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    elsewhere: list[str] = []
    others = 0
    readable: dict[int, bool] = {}  # data_N beside this file that will name its bodies itself
    for entry in _walk(stream, size, head, limits):
        url = chrome_url(entry.key)
        try:
            found = _body_range(entry, this_file, size)
        except ValueError as exc:
            locator = range_locator(
                parent, f"block {entry.block}", HEADER_SIZE + entry.block * ENTRY_SIZE, ENTRY_SIZE, DETAIL
            )
            warn(
                EvidenceWarning(
                    "cache-index-outside",
                    f"entry for {display_safe(url[:512])}: {reason_of(exc)}; body not examined",
                    locator,
                )
            )
            continue
        if found is None:
            continue
        if isinstance(found, str):
            addr = entry.data_addr[1]
            if siblings is not None and addr.block_size in (1024, 4096):
                number = addr.file_number
                if number not in readable:
                    readable[number] = _is_block_file(siblings, number)
                if readable[number]:
                    continue  # yielded with its URL when that file is examined
            kind = _content_type(stream, entry, this_file, size)
            if kind is None or kind.startswith((b"image/", b"video/")):
                elsewhere.append(f"{found} <- {display_safe(url[:512])}")
            else:
                others += 1
            continue
        offset, length = found
        locator = range_locator(parent, f"block {entry.block}", offset, length, DETAIL)
        stream.seek(offset)
        body_head = stream.read(min(HEAD_BYTES, length))
        if not is_media(body_head):
            continue
        note = (
            f"Chrome block-file cache entry (data_{this_file} block {entry.block}) for URL {display_safe(url[:2048])}"
        )
        note += "; " + ("listed in the block bitmap" if entry.allocated else "NOT in the block bitmap (left over)")
        note += f"; state {_STATES[entry.state]}; last-used time not read (it is in data_0)"
        item = Item(
            locator,
            url_name(url, f"block{entry.block}", body_head),
            length,
            created=chrome_time(entry.created),
            carved=True,
            note=note,
        )
        yield item, window(stream, offset, length)
    if elsewhere:
        shown = "; ".join(elsewhere[:MAX_LISTED]) + ("; ..." if len(elsewhere) > MAX_LISTED else "")
        message = (
            f"{len(elsewhere)} cached bodies (pictures, videos or of unknown type) lie in other files of this "
            f"cache, examined on their own without their URL: {shown}"
        )
        if others:
            message += f"; {others} other bodies (pages, scripts ...) not listed"
        warn(EvidenceWarning("cache-body-elsewhere", message, parent.locator))


def _is_block_file(siblings: Callable[[str], BinaryIO], number: int) -> bool:
    """Whether ``data_<number>`` is there beside this file as a block file of 1 KiB or 4 KiB blocks that
    says it is file ``number`` (so it will name the bodies it holds when examined)."""
    try:
        with siblings(f"data_{number}") as opened:
            head = opened.read(BLOCK_HEADER.size)
    except (OSError, EvidenceError):
        return False
    if len(head) != BLOCK_HEADER.size:
        return False
    magic, _version, this_file, _next, entry_size, _num, _max = BLOCK_HEADER.unpack(head)
    return magic == BLOCK_MAGIC and this_file == number and entry_size in (1024, 4096)


def _sibling_entries(
    siblings: Callable[[str], BinaryIO], limits: CacheLimits
) -> Generator[tuple[int, Entry], None, str]:
    """Each entry of data_1 and the 256-byte files chained after it, with its file number; returns why
    the walk stopped early ("" when it did not)."""
    number, seen = 1, set[int]()
    while number > 0:
        if number in seen or len(seen) >= ENTRY_FILES:
            return f"the chain of entry files after data_1 was cut after {len(seen)} files"
        seen.add(number)
        try:
            with siblings(f"data_{number}") as opened:
                data = opened.read(MAX_ENTRY_FILE + 1)
        except FileNotFoundError:
            return f"data_{number} is not there"
        except (OSError, EvidenceError) as exc:
            return f"data_{number} not readable ({reason_of(exc)})"
        head = data[:HEADER_SIZE]
        if len(head) < HEADER_SIZE or BLOCK_HEADER.unpack_from(head)[0] != BLOCK_MAGIC:
            return f"data_{number} is not a block file"
        _magic, _version, this_file, next_file, entry_size, _num, _max = BLOCK_HEADER.unpack_from(head)
        if entry_size != ENTRY_SIZE or this_file != number:
            return f"data_{number} is not a file of entries"
        body = data[:MAX_ENTRY_FILE]
        for entry in _walk(io.BytesIO(body), len(body), head, limits):
            yield number, entry
        if len(data) > MAX_ENTRY_FILE:
            return f"data_{number} is larger than a block file can be; read up to {MAX_ENTRY_FILE} bytes"
        number = next_file
    return ""


def _known(
    parent: Item,
    stream: BinaryIO,
    size: int,
    head: bytes,
    this_file: int,
    block_size: int,
    siblings: Callable[[str], BinaryIO],
    warn: WarningSink,
    limits: CacheLimits,
) -> tuple[list[tuple[Item | None, int, range]], str]:
    """Bodies in this 1 KiB / 4 KiB block file that entries in data_1 point at: (item or None for a body
    that is no picture or video, offset, its blocks), and why data_1 could not be read in full ("")."""
    candidates: list[tuple[int, Entry, int, int]] = []  # source file, entry, offset, length
    walk = _sibling_entries(siblings, limits)
    why = ""
    while True:
        try:
            source, entry = next(walk)
        except StopIteration as stop:
            why = stop.value
            break
        length, addr = entry.data_size[1], entry.data_addr[1]
        if length <= 0 or not addr.initialised or addr.file_type == _EXTERNAL or addr.file_number != this_file:
            continue
        offset = HEADER_SIZE + addr.start_block * block_size
        if addr.block_size != block_size or length > addr.blocks * block_size or offset + length > size:
            url = display_safe(chrome_url(entry.key)[:512])
            where = f"{length} bytes at block {addr.start_block} ({addr.blocks} blocks)"
            message = f"entry in data_{source} block {entry.block} for {url}: body of {where} (address "
            message += f"{addr.raw:#010x}) lies outside its blocks or this file ({size} bytes); body not examined"
            warn(EvidenceWarning("cache-index-outside", message, parent.locator))
            continue
        candidates.append((source, entry, offset, length))
    # the record Chrome last wrote wins where two claim the same blocks (a reused block, an evicted leftover)
    candidates.sort(key=lambda c: (not c[1].allocated, c[1].state != 0, -c[1].created))
    bitmap = head[80:HEADER_SIZE]
    taken: set[int] = set()
    out: list[tuple[Item | None, int, range]] = []
    for source, entry, offset, length in candidates:
        addr = entry.data_addr[1]
        blocks = range(addr.start_block, addr.start_block + addr.blocks)
        if taken.intersection(blocks):
            continue
        taken.update(blocks)
        url = chrome_url(entry.key)
        locator = range_locator(parent, f"block {addr.start_block}", offset, length, DETAIL)
        body_head = media_head(stream, offset, length, limits, locator, warn)
        if body_head is None:
            out.append((None, offset, blocks))
            continue
        start = addr.start_block
        listed = start // 8 < len(bitmap) and bool(bitmap[start // 8] >> (start % 8) & 1)
        note = f"Chrome block-file cache body (data_{this_file} block {start}, {addr.blocks} blocks) of the entry "
        note += f"in data_{source} block {entry.block} for URL {display_safe(url[:2048])}"
        note += "; entry " + ("listed in data_1's block bitmap" if entry.allocated else "NOT in data_1's bitmap")
        note += "; body blocks " + ("listed in this file's bitmap" if listed else "NOT in this file's bitmap")
        note += f"; state {_STATES[entry.state]}; last-used time not read (it is in data_0)"
        name = url_name(url, f"block{start}", body_head)
        item = Item(locator, name, length, created=chrome_time(entry.created), carved=True, note=note)
        out.append((item, offset, blocks))
    out.sort(key=lambda found: found[1])
    return out, why


def _carved(
    parent: Item,
    stream: BinaryIO,
    size: int,
    block_size: int,
    warn: WarningSink,
    covered: set[int],
    beside: bool,
    why: str,
) -> Generator[tuple[Item, BinaryIO], None, None]:
    """Pictures at block starts of a 1 KiB / 4 KiB block file not in ``covered`` (blocks of bodies an entry
    names), found by structure (no URL). ``beside``: data_1 was looked for; ``why``: what it lacked."""
    cap = MAX_BLOCKS * block_size
    defaults = CarveLimits()
    limits = CarveLimits(alignment=block_size, caps=dict.fromkeys(defaults.caps, cap))
    region = window(stream, HEADER_SIZE, size - HEADER_SIZE)
    if not beside:
        source = "its URL is in an entry record in data_1, which this file does not point back to"
    elif why:
        source = f"its URL would be in an entry record in data_1, not read: {why}"
    else:
        source = "no entry record in data_1 points at it (an evicted entry whose record is gone): no URL"
    try:
        for found in carve(region, size - HEADER_SIZE, limits):
            offset = HEADER_SIZE + found.offset
            block = found.offset // block_size
            if block in covered:
                continue  # a body an entry names: yielded with its URL
            locator = range_locator(parent, f"block {block}", offset, found.length, DETAIL)
            note = f"{found.filetype} at block {block} of a Chrome block file of {block_size}-byte blocks, found by "
            note += f"structure; {source}"
            if found.partial:
                note += f"; partial: {found.partial}"
            name = f"block{block}.{'jpg' if found.filetype == 'jpeg' else found.filetype}"
            yield Item(locator, name, found.length, carved=True, note=note), window(stream, offset, found.length)
    except CarveLimitReached as exc:
        warn(
            EvidenceWarning(
                "cache-limit", f"{reason_of(exc)}; the rest of the block file was not searched", parent.locator
            )
        )
