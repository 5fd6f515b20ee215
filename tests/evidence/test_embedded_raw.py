"""Embedded pictures of HEIF/HEIC/AVIF and non-TIFF camera RAW (Canon CR3, Fujifilm RAF, Olympus ORF): the
files are built here around Pillow JPEGs (answer keys), typed by their signatures, expanded, reopened from
their locators through the registry, and hostile structures end in an ``embedded-corrupt`` warning."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from safenet.analysis.filetype import sniff
from safenet.case.schema import WarningRow
from safenet.case.verify import verify_case
from safenet.engine.profiles import Profile
from safenet.evidence.embedded import embedded_kind, expand_embedded
from safenet.evidence.embedded.isobmff import heif_items
from safenet.evidence.locator import LayerKind, Locator
from safenet.evidence.model import Item
from safenet.evidence.registry import open_locator, open_source
from tests.builders import VicsSet, write
from tests.engine.test_embedded_triage import _run
from tests.evidence.test_embedded import PILLOW, exif_app1, jpeg_bytes, md5, run, tiff_with_previews

CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full(kind: bytes, payload: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


# --- HEIF -------------------------------------------------------------------------------------------------


def exif_item(thumbnail: bytes) -> tuple[bytes, int]:
    """An Exif item (4-byte offset to the TIFF header, "Exif\\0\\0", TIFF) and where the thumbnail is in it."""
    app1 = exif_app1(thumbnail)
    payload = struct.pack(">I", 6) + app1[4:]
    return payload, payload.index(thumbnail)


def heif_file(items: list[tuple[int, bytes, bytes]], *, in_idat: int | None = None) -> bytes:
    """ftyp heic + meta (hdlr, iinf, iloc, idat) + mdat; items are (ID, type, bytes); ``in_idat`` is kept in idat."""
    ftyp = box(b"ftyp", b"heic" + b"\0\0\0\0" + b"mif1heic")
    hdlr = full(b"hdlr", b"\0" * 4 + b"pict" + b"\0" * 12 + b"\0")
    infes = [full(b"infe", struct.pack(">HH", item_id, 0) + kind + b"\0", 2) for item_id, kind, _ in items]
    iinf = full(b"iinf", struct.pack(">H", len(infes)) + b"".join(infes))
    idat_data = b"".join(data for item_id, _, data in items if item_id == in_idat)
    idat = box(b"idat", idat_data) if in_idat is not None else b""

    def meta(offsets: dict[int, int]) -> bytes:
        entries = b""
        for item_id, _, data in items:
            method = 1 if item_id == in_idat else 0
            entries += struct.pack(">HHHH", item_id, method, 0, 1) + struct.pack(">II", offsets[item_id], len(data))
        iloc = full(b"iloc", bytes([0x44, 0x00]) + struct.pack(">H", len(items)) + entries, 1)
        return full(b"meta", hdlr + iinf + iloc + idat)

    size = len(meta(dict.fromkeys((i for i, _, _ in items), 0)))
    offsets, pos = {}, len(ftyp) + size + 8
    for item_id, _, data in items:
        if item_id == in_idat:
            offsets[item_id] = 0
        else:
            offsets[item_id], pos = pos, pos + len(data)
    mdat = box(b"mdat", b"".join(data for item_id, _, data in items if item_id != in_idat))
    return ftyp + meta(offsets) + mdat


HEVC = b"\0\0\0\x18fake hevc bitstream...."


@pytest.mark.parametrize("in_idat", [None, 2])
def test_heif_exif_thumbnail_and_jpeg_item(in_idat: int | None) -> None:
    thumbnail, preview = jpeg_bytes(21, (32, 24)), jpeg_bytes(22, (64, 48))
    exif, _ = exif_item(thumbnail)
    data = heif_file([(1, b"hvc1", HEVC), (2, b"Exif", exif), (3, b"jpeg", preview)], in_idat=in_idat)
    assert sniff(data[:4096]).name == "heic"
    parent = Item(Locator.source("/exhibit/IMG_0001.HEIC"), "IMG_0001.HEIC", len(data))
    assert embedded_kind(parent, "heic") == embedded_kind(parent, "avif") == "heif"
    found, warnings = run(data, "heif", name="IMG_0001.HEIC")
    assert warnings == []
    got = {item.locator.leaf.value: (item, body) for item, body in found}
    assert set(got) == {"exif-thumbnail", "heif-item-3"}  # the hvc1 item is not extracted
    assert md5(got["exif-thumbnail"][1]) == md5(thumbnail) and md5(got["heif-item-3"][1]) == md5(preview)
    for item, body in got.values():
        leaf = item.locator.leaf
        assert leaf.kind is LayerKind.EMBEDDED and leaf.offset is not None and item.carved
        assert data[leaf.offset : leaf.offset + len(body)] == body  # a byte range of the parent
    assert got["exif-thumbnail"][0].locator.leaf.detail == "exif"
    assert (got["heif-item-3"][0].note or "").startswith("JPEG item 3 (iloc) of the parent HEIF, bytes ")


def test_corpus_heif_and_avif_parse_without_warnings() -> None:
    """Pillow's AVIF/HEIF test files hold AV1/HEVC items and one Exif item without IFD1: nothing to extract."""
    paths = [*sorted((PILLOW / "avif").glob("*.avif")), PILLOW / "avif" / "hopper.heif"]
    assert len(paths) >= 10
    types: set[str] = set()
    for path in paths:
        data = path.read_bytes()
        assert sniff(data[:4096]).name in ("avif", "heic"), path.name
        items = heif_items(io.BytesIO(data))
        assert items, path.name
        types.update(item.item_type for item in items)
        found, warnings = run(data, "heif", name=path.name)
        assert found == [] and warnings == [], path.name
    assert {"av01", "hvc1", "Exif"} <= types
    data = (PILLOW / "avif" / "exif.avif").read_bytes()
    ((offset, length),) = next(i for i in heif_items(io.BytesIO(data)) if i.item_type == "Exif").extents
    tiff_at = offset + 4 + int.from_bytes(data[offset : offset + 4], "big")
    with Image.open(PILLOW / "avif" / "exif.avif") as img:  # Pillow (libavif) reads the same Exif bytes
        assert img.info["exif"].removeprefix(b"Exif\0\0") == data[tiff_at : offset + length]


def test_hostile_heif_is_a_warning_and_a_finished_run() -> None:
    thumbnail = jpeg_bytes(21, (32, 24))
    exif, _ = exif_item(thumbnail)
    good = heif_file([(1, b"hvc1", HEVC), (2, b"Exif", exif)])
    meta_at = good.index(b"meta") - 4
    iinf_at = good.index(b"iinf") - 4
    iloc_at = good.index(b"iloc") - 4
    entry_2 = iloc_at + 12 + 4 + 12 + 8  # header, sizes, count, first entry (12 + 8 bytes), then item 2
    variants = {
        "meta larger than the file": good[:meta_at] + struct.pack(">I", 10**6) + good[meta_at + 4 :],
        "iinf larger than meta": good[:iinf_at] + struct.pack(">I", 10**6) + good[iinf_at + 4 :],
        "box of 4 bytes (no progress)": good[:iinf_at] + struct.pack(">I", 4) + good[iinf_at + 4 :],
        "extent outside the file": good[: entry_2 + 8] + struct.pack(">I", 10**7) + good[entry_2 + 12 :],
        "thumbnail outside the item": heif_file([(2, b"Exif", exif[:-20])]),
    }
    for why, data in variants.items():
        found, warnings = run(data, "heif")
        assert found == [], why
        assert [w.code for w in warnings] == ["embedded-corrupt"], (why, [w.message for w in warnings])


# --- Canon CR3 --------------------------------------------------------------------------------------------


def cr3_file(preview: bytes, thumb: bytes, *, declared: int | None = None) -> bytes:
    """ftyp crx + moov › uuid(Canon) › THMB + uuid(preview) › PRVW + mdat, as lclevy/canon_cr3 describes."""
    ftyp = box(b"ftyp", b"crx " + struct.pack(">I", 1) + b"crx isom")
    thmb = box(b"THMB", b"\0\0\0\0" + struct.pack(">HHIHH", 160, 120, len(thumb), 1, 0) + thumb)
    canon = box(b"uuid", CANON_UUID + box(b"CNCV", b"CanonCR3_001/00.09.00/00.00.00") + thmb)
    moov = box(b"moov", canon + full(b"mvhd", b"\0" * 96))
    length = len(preview) if declared is None else declared
    prvw = box(b"PRVW", struct.pack(">IHHHHI", 0, 1, 1620, 1080, 1, length) + preview)
    return ftyp + moov + box(b"uuid", PREVIEW_UUID + struct.pack(">Q", 1) + prvw) + box(b"mdat", b"\0" * 64)


def test_cr3_preview_and_thumbnail() -> None:
    preview, thumb = jpeg_bytes(23, (96, 64)), jpeg_bytes(24, (40, 30))
    data = cr3_file(preview, thumb)
    assert sniff(data[:4096]).name == "cr3"
    found, warnings = run(data, "cr3", name="IMG_0001.CR3")
    assert warnings == []
    assert {item.locator.leaf.value: md5(body) for item, body in found} == {
        "thumbnail": md5(thumb),
        "preview-1": md5(preview),
    }
    assert all(item.locator.leaf.detail == "cr3" and item.carved for item, _ in found)
    notes = " ".join(item.note or "" for item, _ in found)
    assert "JPEG preview (PRVW box) of the parent Canon CR3" in notes and "THMB box" in notes


def test_cr3_raw_thumbnail_is_left_alone_and_lies_are_warnings() -> None:
    preview = jpeg_bytes(23, (96, 64))
    found, warnings = run(cr3_file(preview, b"\x10\x20" * 300), "cr3")  # THMB of raw pixels: not a JPEG
    assert warnings == [] and [md5(body) for _, body in found] == [md5(preview)]
    found, warnings = run(cr3_file(preview, b"", declared=len(preview) + 100), "cr3")
    assert found == [] and [w.code for w in warnings] == ["embedded-corrupt"] and "PRVW" in warnings[0].message
    data = cr3_file(preview, jpeg_bytes(24, (40, 30)))
    at = data.index(PREVIEW_UUID) - 8
    lied = data[:at] + struct.pack(">I", 10**8) + data[at + 4 :]  # the preview uuid box runs past the file
    found, warnings = run(lied, "cr3")
    assert [item.locator.leaf.value for item, _ in found] == ["thumbnail"]  # what came before the damage stands
    assert [w.code for w in warnings] == ["embedded-corrupt"] and "claims" in warnings[0].message


# --- Fujifilm RAF -----------------------------------------------------------------------------------------


def raf_file(preview: bytes, *, offset: int = 160, length: int | None = None) -> bytes:
    head = b"FUJIFILMCCD-RAW 0201FF129502" + b"X-T1".ljust(32, b"\0") + b"0100" + b"\0" * 20
    assert len(head) == 84
    head += struct.pack(">IIII", offset, len(preview) if length is None else length, 0, 0)
    return head.ljust(160, b"\0") + preview + b"\0" * 32


def test_raf_preview() -> None:
    preview = jpeg_bytes(25, (96, 64))
    data = raf_file(preview)
    assert sniff(data[:4096]).name == "raf"
    found, warnings = run(data, "raf", name="DSCF0001.RAF")
    assert warnings == []
    ((item, body),) = found
    assert md5(body) == md5(preview)
    leaf = item.locator.leaf
    assert (leaf.value, leaf.offset, leaf.length, leaf.detail) == ("preview-1", 160, len(preview), "raf")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (raf_file(b"\xff\xd8\xff\xdb", offset=10**6), "outside"),
        (raf_file(b"\xff\xd8\xff\xdb", length=10**9), "outside"),
        (raf_file(b"\xff\xd8\xff\xdb", length=0), "length 0"),
        (raf_file(b"not a jpeg"), "does not start with a JPEG marker"),
        (b"FUJIFILMCCD-RAW 0201", "shorter"),
    ],
)
def test_hostile_raf_is_a_warning(data: bytes, why: str) -> None:
    found, warnings = run(data, "raf")
    assert found == [] and [w.code for w in warnings] == ["embedded-corrupt"] and why in warnings[0].message


# --- Olympus ORF ------------------------------------------------------------------------------------------


def test_orf_magic_is_a_tiff() -> None:
    sub_preview, ifd1_preview = jpeg_bytes(26, (64, 48)), jpeg_bytes(27, (32, 24))
    data = b"IIRO" + tiff_with_previews(sub_preview, ifd1_preview, b"\0" * 16)[4:]
    assert sniff(data[:4096]).name == "tiff"
    found, warnings = run(data, "tiff", name="P1010001.ORF")
    assert warnings == []
    assert sorted(md5(body) for _, body in found) == sorted([md5(sub_preview), md5(ifd1_preview)])
    big = b"MMOR" + struct.pack(">I", 8) + struct.pack(">H", 1) + struct.pack(">HHII", 0x100, 4, 1, 1) + b"\0" * 4
    assert sniff(big).name == "tiff" and run(big, "tiff") == ([], [])


# --- through the registry ---------------------------------------------------------------------------------


def test_camera_pictures_reopen_through_the_registry(tmp_path: Path) -> None:
    thumbnail = jpeg_bytes(28, (32, 24))
    exif, _ = exif_item(thumbnail)
    files = {
        "a.heic": heif_file([(1, b"hvc1", HEVC), (2, b"Exif", exif), (3, b"jpeg", jpeg_bytes(29))]),
        "b.cr3": cr3_file(jpeg_bytes(30), jpeg_bytes(31, (40, 30))),
        "c.raf": raf_file(jpeg_bytes(32)),
        "d.orf": b"IIRO" + tiff_with_previews(jpeg_bytes(33), jpeg_bytes(34), b"\0" * 16)[4:],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    evidence = open_source(tmp_path)
    counts: dict[str, int] = {}
    for parent in evidence.items(lambda w: None):
        kind = embedded_kind(parent, sniff(files[parent.name][:4096]).name)
        assert kind is not None, parent.name
        for item, stream in expand_embedded(parent, kind, lambda p=parent: evidence.open(p.locator), lambda w: None):
            got = stream.read()
            with open_locator(evidence, item.locator) as again:
                assert again.read() == got
            counts[parent.name] = counts.get(parent.name, 0) + 1
    assert counts == {"a.heic": 2, "b.cr3": 2, "c.raf": 1, "d.orf": 2}


def test_standard_triage_finds_camera_pictures_and_verifies(tmp_path: Path) -> None:
    """End to end: pictures known only by their copies inside a HEIC, a CR3, a RAF and an ORF are found."""
    keys = [jpeg_bytes(40 + i, (40, 30)) for i in range(4)]
    exif, _ = exif_item(keys[0])
    root = tmp_path / "exhibit"
    write(root, "DCIM/IMG_0001.HEIC", heif_file([(1, b"hvc1", HEVC), (2, b"Exif", exif)]))
    write(root, "DCIM/IMG_0002.CR3", cr3_file(keys[1], b"\x10" * 64))
    write(root, "DCIM/DSCF0003.RAF", raf_file(keys[2]))
    write(root, "DCIM/P1010004.ORF", b"IIRO" + tiff_with_previews(keys[3], jpeg_bytes(50), b"\0" * 16)[4:])
    known = VicsSet()
    for key in keys:
        known.add(key, 1)
    case, events = _run(tmp_path, root, known, Profile.STANDARD)
    assert sorted(hit.locator.layers[-2].value.rsplit("/", 1)[-1] for hit in events.hits) == [
        "DSCF0003.RAF",
        "IMG_0001.HEIC",
        "IMG_0002.CR3",
        "P1010004.ORF",
    ]
    assert sorted(hit.locator.leaf.detail or "" for hit in events.hits) == ["cr3", "exif", "raf", "tiff"]
    with case.sessions() as s:
        assert not [code for code in s.scalars(select(WarningRow.code)).all() if code.startswith("embedded-")]
    assert verify_case(case).ok
