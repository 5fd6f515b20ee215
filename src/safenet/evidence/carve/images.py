"""PNG, GIF, BMP and TIFF validation for the carver.

PNG is the strongest case: every chunk carries a CRC (zlib.crc32 over type and data), so a
fragmented PNG is caught at the first chunk that crosses the gap. GIF is walked block by block to
its trailer. BMP and TIFF have no checksums and no end marker: BMP is accepted when its header sizes
agree with each other; TIFF is best effort (IFD chain and strip/tile extents; sub-IFDs such as a
camera RAW's are not followed, so a RAW may be cut short and is then reported by its IFD0 extent).
"""

from __future__ import annotations

import struct
import zlib

from safenet.evidence.carve.model import MIB, Carve, Source

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def validate_png(src: Source, start: int, cap: int) -> Carve | None:
    head = src.read(start + 8, 33)
    if len(head) < 25 or head[:8] != b"\0\0\0\x0dIHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", head[8:18])
    if not (width and height and depth in (1, 2, 4, 8, 16) and colour in (0, 2, 3, 4, 6)):
        return None
    if zlib.crc32(head[4:21]) != int.from_bytes(head[21:25], "big"):
        return None
    pos = start + 8 + 25
    while True:
        chunk = src.read(pos, 8)
        if len(chunk) < 8:
            return Carve(start, min(pos, src.size) - start, "png", "region ends before IEND (truncated)")
        length, ctype = int.from_bytes(chunk[:4], "big"), chunk[4:8]
        if not ctype.isalpha() or length > 0x7FFFFFFF:
            return Carve(start, pos - start, "png", f"no valid chunk at offset {pos} (fragmented?)")
        if pos + 12 + length - start > cap:
            return Carve(start, cap, "png", f"chunk at offset {pos} runs past the {cap}-byte cap")
        crc = zlib.crc32(ctype)
        done = 0
        while done < length:
            piece = src.read(pos + 8 + done, min(MIB, length - done))
            if not piece:
                return Carve(start, src.size - start, "png", "region ends inside a chunk (truncated)")
            crc = zlib.crc32(piece, crc)
            done += len(piece)
        stored = src.read(pos + 8 + length, 4)
        if len(stored) < 4:
            return Carve(start, src.size - start, "png", "region ends inside a chunk (truncated)")
        if crc != int.from_bytes(stored, "big"):
            return Carve(
                start, pos - start, "png", f"CRC mismatch in {ctype.decode()} chunk at offset {pos} (fragmented?)"
            )
        pos += 12 + length
        if ctype == b"IEND":
            return Carve(start, pos - start, "png")


def validate_gif(src: Source, start: int, cap: int) -> Carve | None:
    head = src.read(start, 13)
    if len(head) < 13:
        return None
    width, height, flags = struct.unpack("<HHB", head[6:11])
    if not width or not height:
        return None
    pos = start + 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0

    def partial(reason: str, at: int) -> Carve | None:
        return Carve(start, at - start, "gif", reason) if frames else None

    while True:
        if pos - start >= cap:
            return partial(f"no trailer within the {cap}-byte cap", start + cap)
        block = src.read(pos, 10)
        if not block:
            return partial("region ends before the trailer (truncated)", min(pos, src.size))
        if block[0] == 0x3B:
            return Carve(start, pos + 1 - start, "gif") if frames else None
        if block[0] == 0x21 and len(block) >= 2:
            end = _sub_blocks(src, pos + 2, start + cap)
        elif block[0] == 0x2C and len(block) == 10:
            lct = 3 << ((block[9] & 7) + 1) if block[9] & 0x80 else 0
            code_size = src.read(pos + 10 + lct, 1)
            if not code_size or not 2 <= code_size[0] <= 12:
                return partial(f"image data not valid at offset {pos} (fragmented?)", pos)
            end = _sub_blocks(src, pos + 11 + lct, start + cap)
            width, height = struct.unpack("<HH", block[5:9])
            if end is not None and not _lzw_fits(src, pos + 11 + lct, end, code_size[0], width * height):
                reason = f"image data at offset {pos} does not decode to its frame size (fragmented?)"
                return Carve(start, pos - start, "gif", reason)  # a whole block chain: a real GIF start
            frames += 1 if end is not None else 0
        else:
            return partial(f"no valid block at offset {pos} (fragmented?)", pos)
        if end is None:
            return partial(f"data blocks after offset {pos} run past the end or cap", pos)
        pos = end


def _sub_blocks(src: Source, pos: int, limit: int) -> int | None:
    """Offset after the block terminator of the sub-block chain at ``pos``; None past ``limit``/end."""
    while pos < limit:
        buf = src.read(pos, 64 * 1024)
        i = 0
        while i < len(buf):
            size = buf[i]
            if size == 0:
                return pos + i + 1
            i += 1 + size
        if not buf:
            return None
        pos += i
    return None


LZW_CHECK_MAX = 4 << 20  # compressed bytes of one frame checked by decoding (larger: structure only)


def _lzw_fits(src: Source, pos: int, end: int, min_size: int, pixels: int) -> bool:
    """Whether a frame's LZW data decodes to exactly ``pixels`` pixels (lengths only, no pixels made).

    The sub-block chain resynchronises after a gap of foreign data, so the block walk alone would
    pass a fragmented GIF; the LZW code stream does not survive it. Frames larger than
    LZW_CHECK_MAX compressed bytes are passed on structure alone.
    """
    if end - pos > LZW_CHECK_MAX or min_size > 11:
        return True
    raw = src.read(pos, end - pos)
    data = bytearray()
    i = 0
    while i < len(raw) and raw[i]:
        data += raw[i + 1 : i + 1 + raw[i]]
        i += 1 + raw[i]
    clear, eoi = 1 << min_size, (1 << min_size) + 1
    lengths = [1] * clear + [0, 0]
    size, nxt, prev, out = min_size + 1, eoi + 1, -1, 0
    acc = bits = 0
    for byte in data:
        acc |= byte << bits
        bits += 8
        while bits >= size:
            code = acc & ((1 << size) - 1)
            acc >>= size
            bits -= size
            if code == clear:
                del lengths[eoi + 1 :]
                size, nxt, prev = min_size + 1, eoi + 1, -1
                continue
            if code == eoi:
                return out == pixels
            if code < nxt and code != eoi and (code < clear or code > eoi):
                length = lengths[code]
            elif code == nxt and prev >= 0:
                length = lengths[prev] + 1
            else:
                return False
            if prev >= 0 and nxt < 4096:
                lengths.append(lengths[prev] + 1)
                nxt += 1
                if nxt == 1 << size and size < 12:
                    size += 1
            prev = code
            out += length
            if out > pixels:
                return False
    return out == pixels  # some encoders end without EOI


_DIB_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


def validate_bmp(src: Source, start: int, cap: int) -> Carve | None:
    head = src.read(start, 30)
    if len(head) < 30:
        return None
    size, reserved, pixels, dib = struct.unpack("<IIII", head[2:18])
    if reserved or dib not in _DIB_SIZES or size < 14 + dib or not 14 + dib <= pixels <= size:
        return None
    if dib == 12:
        width, height, planes, bpp = struct.unpack("<HHHH", head[18:26])
        compression = 0
    else:
        width, height, planes, bpp, compression = struct.unpack("<iiHHI", src.read(start + 18, 16).ljust(16, b"\0"))
    if planes != 1 or bpp not in (1, 4, 8, 16, 24, 32) or not 0 < width <= 65535 or not 0 < abs(height) <= 65535:
        return None
    if compression == 0 and pixels + ((width * bpp + 31) // 32) * 4 * abs(height) > size:
        return None
    if size > cap:
        return Carve(start, cap, "bmp", f"declared size {size} is over the {cap}-byte cap")
    if start + size > src.size:
        return Carve(start, src.size - start, "bmp", "region ends before the declared size (truncated)")
    return Carve(start, size, "bmp")


_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


def validate_tiff(src: Source, start: int, cap: int) -> Carve | None:
    """Best effort: the extent of IFD0 (and chained IFDs), their values and strips or tiles."""
    order = "<" if src.read(start, 2) == b"II" else ">"
    ifd = struct.unpack(order + "I", src.read(start + 4, 4).ljust(4, b"\0"))[0]
    extent, seen, first = 8, set[int](), True
    while ifd and len(seen) < 64 and ifd not in seen:
        seen.add(ifd)
        if ifd < 8 or ifd > cap:
            return None if first else Carve(start, extent, "tiff", f"IFD offset {ifd} not valid")
        count_raw = src.read(start + ifd, 2)
        count = struct.unpack(order + "H", count_raw.ljust(2, b"\0"))[0]
        if not 0 < count <= 512:
            return None if first else Carve(start, extent, "tiff", f"IFD at {ifd} not valid")
        table = src.read(start + ifd + 2, 12 * count + 4)
        if len(table) < 12 * count + 4:
            return None
        tags: dict[int, list[int]] = {}
        for n in range(count):
            tag, typ, num, value = struct.unpack(order + "HHII", table[12 * n : 12 * n + 12])
            if typ not in _TIFF_TYPE_SIZES or num > (1 << 28):
                return None if first else Carve(start, extent, "tiff", f"IFD entry at {ifd} not valid")
            nbytes = _TIFF_TYPE_SIZES[typ] * num
            if nbytes > 4:
                extent = max(extent, value + nbytes)
            if tag in (256, 257, 273, 279, 324, 325) and typ in (3, 4) and num <= 100_000:
                tags[tag] = _values(
                    src, start, order, typ, num, value if nbytes > 4 else None, table[12 * n + 8 : 12 * n + 12]
                )
        if first and not (
            256 in tags and 257 in tags and ((273 in tags and 279 in tags) or (324 in tags and 325 in tags))
        ):
            return None
        for offsets, counts in ((273, 279), (324, 325)):
            for off, num in zip(tags.get(offsets, []), tags.get(counts, []), strict=False):
                extent = max(extent, off + num)
        extent = max(extent, ifd + 2 + 12 * count + 4)
        ifd = struct.unpack(order + "I", table[-4:])[0]
        first = False
    if extent > cap:
        return Carve(start, cap, "tiff", f"extent {extent} is over the {cap}-byte cap")
    if start + extent > src.size:
        return Carve(start, src.size - start, "tiff", "region ends before the last strip (truncated)")
    return Carve(start, extent, "tiff")


def _values(src: Source, start: int, order: str, typ: int, num: int, offset: int | None, inline: bytes) -> list[int]:
    fmt = "H" if typ == 3 else "I"
    raw = inline if offset is None else src.read(start + offset, num * struct.calcsize(fmt))
    num = min(num, len(raw) // struct.calcsize(fmt))
    return list(struct.unpack(f"{order}{num}{fmt}", raw[: num * struct.calcsize(fmt)]))
