"""Embedded pictures: EXIF thumbnails, camera previews, MPO pictures, PDF, OLE and Office pictures come
out as items whose bytes are the pictures put in (answer keys), cross-checked against Pillow's own
reading of the corpus, reopen from their locators alone, and hostile structures end in warnings."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from safenet.analysis.filetype import sniff
from safenet.demo import _encode, picture
from safenet.evidence.embedded import WARNING_CODES, EmbeddedLimits, embedded_kind, expand_embedded, open_embedded
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item
from safenet.evidence.registry import open_locator, open_source
from tests.datafiles import DATA
from tests.evidence.test_thumbcache_thumbsdb import cfb

PILLOW = DATA / "media" / "pillow"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def run(
    data: bytes, kind: str, limits: EmbeddedLimits | None = None, name: str = "parent"
) -> tuple[list[tuple[Item, bytes]], list[EvidenceWarning]]:
    parent = Item(Locator.source(f"/exhibit/{name}"), name, len(data))
    warnings: list[EvidenceWarning] = []
    found = [
        (item, stream.read())
        for item, stream in expand_embedded(parent, kind, lambda: io.BytesIO(data), warnings.append, limits)
    ]
    return found, warnings


def jpeg_bytes(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    return _encode(picture(seed, size), "JPEG")


# --- builders -------------------------------------------------------------------------------------------


def ifd(entries: list[tuple[int, int, int, int]], following: int) -> bytes:
    """A little-endian IFD: (tag, type, count, value-or-offset) entries and the next IFD's offset."""
    out = struct.pack("<H", len(entries))
    for tag, typ, count, value in sorted(entries):
        packed = struct.pack("<H", value) + b"\0\0" if typ == 3 and count == 1 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    return out + struct.pack("<I", following)


def exif_app1(thumbnail: bytes, *, offset: int | None = None, length: int | None = None, loop: bool = False) -> bytes:
    """An APP1 Exif segment: IFD0 (orientation) → IFD1 naming ``thumbnail`` (stored after IFD1)."""
    ifd0 = ifd([(0x112, 3, 1, 1)], 26)  # at 8, 18 bytes; IFD1 at 26
    ifd1_len = 2 + 3 * 12 + 4
    thumb_at = 26 + ifd1_len
    entries = [
        (0x103, 3, 1, 6),
        (0x201, 4, 1, thumb_at if offset is None else offset),
        (0x202, 4, 1, len(thumbnail) if length is None else length),
    ]
    tiff = b"II*\0" + struct.pack("<I", 8) + ifd0 + ifd(entries, 8 if loop else 0) + thumbnail
    body = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def with_app1(main: bytes, app1: bytes) -> bytes:
    return main[:2] + app1 + main[2:]


def pdf_bytes(pictures: list[tuple[bytes, bool]], *, declared: int | None = None) -> bytes:
    """A one-page PDF showing each JPEG; (jpeg, deflated) stores it FlateDecode+DCTDecode when True."""
    names = " ".join(f"/Im{i} {5 + i} 0 R" for i in range(len(pictures)))
    content = b"".join(f"q 10 0 0 10 {20 * i} 0 cm /Im{i} Do Q\n".encode() for i in range(len(pictures)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /XObject << {names} >> >> "
        "/Contents 4 0 R >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    for data, deflated in pictures:
        body = zlib.compress(data) if deflated else data
        filters = "[/FlateDecode /DCTDecode]" if deflated else "/DCTDecode"
        length = declared if declared is not None else len(body)
        head = (
            f"<< /Type /XObject /Subtype /Image /Width 96 /Height 64 /ColorSpace /DeviceRGB "
            f"/BitsPerComponent 8 /Filter {filters} /Length {length} >>\nstream\n"
        ).encode()
        objects.append(head + body + b"\nendstream")
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


# --- EXIF thumbnails ------------------------------------------------------------------------------------


def _pillow_thumbnails() -> list[Path]:
    out = []
    for path in sorted(PILLOW.glob("*.jp*g")):
        with Image.open(path) as img:
            try:
                ifd1 = img.getexif().get_ifd(ExifTags.IFD.IFD1)
            except Exception:  # some corpus files are deliberately broken for Pillow too
                continue
            if 0x201 in ifd1 and 0x202 in ifd1:
                out.append(path)
    return out


def test_corpus_exif_thumbnails_match_pillows_reading() -> None:
    """An independent reader (Pillow's IFD1 and APP1 bytes) gives the same thumbnail bytes as ours."""
    paths = _pillow_thumbnails()
    assert len(paths) >= 10
    for path in paths:
        with Image.open(path) as img:
            ifd1 = img.getexif().get_ifd(ExifTags.IFD.IFD1)
            app1 = img.info["exif"]
        start, length = ifd1[0x201], ifd1[0x202]
        expected = app1[6 + start : 6 + start + length]
        found, warnings = run(path.read_bytes(), "jpeg", name=path.name)
        thumbs = {item.locator.leaf.value: data for item, data in found}
        assert md5(thumbs["exif-thumbnail"]) == md5(expected), path.name
        item = next(i for i, _ in found if i.locator.leaf.value == "exif-thumbnail")
        assert item.carved and item.name == "exif-thumbnail.jpg" and item.size == length
        assert item.note is not None and item.note.startswith("EXIF thumbnail (IFD1) of the parent JPEG, bytes ")
        with Image.open(io.BytesIO(thumbs["exif-thumbnail"])) as thumb:
            thumb.load()  # a whole picture
        assert [w for w in warnings if w.code != "embedded-corrupt"] == []


def test_built_exif_thumbnail_is_the_picture_put_in() -> None:
    thumbnail = jpeg_bytes(2, (32, 24))
    data = with_app1(jpeg_bytes(1), exif_app1(thumbnail))
    with Image.open(io.BytesIO(data)) as img:  # Pillow agrees the structure is valid
        assert img.getexif().get_ifd(ExifTags.IFD.IFD1)[0x202] == len(thumbnail)
    found, warnings = run(data, "jpeg")
    assert warnings == []
    ((item, got),) = found
    assert md5(got) == md5(thumbnail)
    leaf = item.locator.leaf
    assert (leaf.kind, leaf.value, leaf.detail) == (LayerKind.EMBEDDED, "exif-thumbnail", "exif")
    assert leaf.offset is not None and leaf.length == len(thumbnail)
    assert data[leaf.offset : leaf.offset + leaf.length] == thumbnail  # a byte range of the parent
    assert str(item.locator) == f"/exhibit/parent › exif-thumbnail[{leaf.offset}-{leaf.offset + len(thumbnail)}]"
    with open_embedded(io.BytesIO(data), leaf) as again:
        assert again.read() == thumbnail


@pytest.mark.parametrize(
    ("app1", "why"),
    [
        (exif_app1(jpeg_bytes(2, (16, 16)), offset=10_000_000), "outside"),
        (exif_app1(jpeg_bytes(2, (16, 16)), length=0), "length 0"),
        (exif_app1(jpeg_bytes(2, (16, 16)), loop=True), "IFD loop"),
        (exif_app1(b"not a jpeg at all"), "does not start with a JPEG marker"),
        (exif_app1(b"")[:24], "runs past"),
    ],
)
def test_hostile_exif_is_a_warning_with_a_locator(app1: bytes, why: str) -> None:
    if len(app1) < 30:  # a truncated segment: fix its declared length so the JPEG still parses
        app1 = app1[:2] + struct.pack(">H", len(app1) - 2) + app1[4:]
    found, warnings = run(with_app1(jpeg_bytes(1), app1), "jpeg")
    assert why in " ".join(w.message for w in warnings)
    assert {w.code for w in warnings} == {"embedded-corrupt"}
    assert all(w.locator is not None and str(w.locator).startswith("/exhibit/parent") for w in warnings)
    if why != "IFD loop":  # a loop is found after the thumbnail was read: the thumbnail stands
        assert found == []


def test_exif_limits_bound_the_work() -> None:
    data = with_app1(jpeg_bytes(1), exif_app1(jpeg_bytes(2, (32, 24))))
    found, warnings = run(data, "jpeg", EmbeddedLimits(max_picture_bytes=100))
    assert found == [] and [w.code for w in warnings] == ["embedded-limit"]


# --- MPO --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sugarshack.mpo", "frozenpond.mpo"])
def test_mpo_pictures_match_pillows_frames(name: str) -> None:
    data = (PILLOW / name).read_bytes()
    found, warnings = run(data, "jpeg", name=name)
    assert warnings == []
    pictures = {item.locator.leaf.value: (item, got) for item, got in found}
    assert {"exif-thumbnail", "mpo-1", "mpo-2"} <= set(pictures)
    with Image.open(PILLOW / name) as img:
        assert img.n_frames == 2
        for frame in range(2):
            img.seek(frame)
            item, got = pictures[f"mpo-{frame + 1}"]
            with Image.open(io.BytesIO(got)) as ours:
                assert ours.tobytes() == img.tobytes()  # Pillow decodes the same picture from our bytes
            assert item.carved and item.locator.leaf.detail == "mpo"
            assert item.note is not None and f"MPO picture {frame + 1} of 2" in item.note


@pytest.mark.parametrize("name", ["sugarshack_no_data.mpo", "sugarshack_ifd_offset.mpo"])
def test_damaged_mpo_keeps_what_is_whole(name: str) -> None:
    found, warnings = run((PILLOW / name).read_bytes(), "jpeg", name=name)
    assert "mpo-1" in {item.locator.leaf.value for item, _ in found}
    assert [w.code for w in warnings] == ["embedded-corrupt"]
    assert warnings[0].locator is not None and warnings[0].locator.leaf.value == "mpo-2"


# --- TIFF / DNG-style previews ----------------------------------------------------------------------------


def tiff_with_previews(sub_preview: bytes, ifd1_preview: bytes, lossless: bytes) -> bytes:
    """IFD0 (a 1x1 grey strip; SubIFDs: a JPEG preview strip and a lossless raw strip) → IFD1 (0x201/0x202)."""
    out = bytearray(b"II*\0" + struct.pack("<I", 8))
    pixel_at = 8
    out += b"\x80\0"
    sub_at = len(out)
    out += sub_preview
    raw_at = len(out)
    out += lossless
    ifd1_data_at = len(out)
    out += ifd1_preview
    subifd_a = len(out)
    entries_a = [(0x103, 3, 1, 7), (0xFE, 4, 1, 1), (0x111, 4, 1, sub_at), (0x117, 4, 1, len(sub_preview))]
    out += ifd(entries_a, 0)
    subifd_b = len(out)
    out += ifd([(0x103, 3, 1, 7), (0x111, 4, 1, raw_at), (0x117, 4, 1, len(lossless))], 0)
    array_at = len(out)
    out += struct.pack("<II", subifd_a, subifd_b)
    ifd1_at = len(out) + 2 + 7 * 12 + 4
    ifd0 = [
        (0x100, 3, 1, 1),
        (0x101, 3, 1, 1),
        (0x103, 3, 1, 1),
        (0x111, 4, 1, pixel_at),
        (0x115, 3, 1, 1),
        (0x117, 4, 1, 1),
        (0x14A, 13, 2, array_at),
    ]
    out[4:8] = struct.pack("<I", len(out))
    out += ifd(ifd0, ifd1_at)
    out += ifd([(0x103, 3, 1, 6), (0x201, 4, 1, ifd1_data_at), (0x202, 4, 1, len(ifd1_preview))], 0)
    return bytes(out)


def test_tiff_previews_in_subifds_and_ifd1() -> None:
    sub_preview, ifd1_preview = jpeg_bytes(3, (64, 48)), jpeg_bytes(4, (32, 24))
    lossless = b"\xff\xd8\xff\xc3\x00\x0b\x10\x00\x10\x00\x10\x01\x01\x11\x00" + b"\0" * 64  # SOF3: raw data
    data = tiff_with_previews(sub_preview, ifd1_preview, lossless)
    assert sniff(data[:4096]).name == "tiff"
    found, warnings = run(data, "tiff", name="IMG_0001.dng")
    assert warnings == []
    assert sorted(md5(got) for _, got in found) == sorted([md5(sub_preview), md5(ifd1_preview)])
    assert all(
        item.locator.leaf.detail == "tiff" and item.locator.leaf.value.startswith("preview-") for item, _ in found
    )
    notes = " ".join(item.note or "" for item, _ in found)
    assert "IFD0/SubIFD1, one strip" in notes and "IFD1, JPEGInterchangeFormat" in notes


def test_tiff_ifd_loop_is_a_warning() -> None:
    data = bytearray(b"II*\0" + struct.pack("<I", 8) + ifd([(0x100, 3, 1, 1)], 8))
    found, warnings = run(bytes(data), "tiff")
    assert found == [] and [w.code for w in warnings] == ["embedded-corrupt"] and "loop" in warnings[0].message


# --- PDF --------------------------------------------------------------------------------------------------


def test_pdf_pictures_stored_and_deflated() -> None:
    stored, deflated = jpeg_bytes(5), jpeg_bytes(6)
    data = pdf_bytes([(stored, False), (deflated, True)])
    found, warnings = run(data, "pdf", name="report.pdf")
    assert warnings == []
    by_md5 = {md5(got): item for item, got in found}
    assert set(by_md5) == {md5(stored), md5(deflated)}
    ranged, extracted = by_md5[md5(stored)].locator.leaf, by_md5[md5(deflated)].locator.leaf
    assert (ranged.value, ranged.inode, ranged.detail) == ("pdf-obj-5", 5, "pdf")
    assert ranged.offset is not None and data[ranged.offset : ranged.offset + len(stored)] == stored
    assert (extracted.value, extracted.offset, extracted.length) == ("pdf-obj-6", None, None)
    assert "inflated" in (by_md5[md5(deflated)].note or "")
    for item, got in found:
        assert not item.carved and item.name.endswith(".jpg")
        with open_embedded(io.BytesIO(data), item.locator.leaf) as again:
            assert again.read() == got


def test_pillow_written_pdf_holds_its_jpeg() -> None:
    img = picture(7, (80, 60))
    expected = _encode_default_jpeg(img)
    buf = io.BytesIO()
    img.save(buf, "PDF")
    found, warnings = run(buf.getvalue(), "pdf")
    assert warnings == [] and [md5(got) for _, got in found] == [md5(expected)]


def _encode_default_jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


def test_pdf_with_broken_xref_is_still_read() -> None:
    picture_bytes = jpeg_bytes(8)
    data = pdf_bytes([(picture_bytes, False)])
    broken = data[: data.rindex(b"startxref")] + b"startxref\n999999\n%%EOF\n"
    found, _ = run(broken, "pdf")  # pypdf rebuilds the table by scanning for objects
    assert [md5(got) for _, got in found] == [md5(picture_bytes)]


def test_pdf_bomb_and_garbage_are_warnings() -> None:
    bomb = pdf_bytes([(jpeg_bytes(9), False)], declared=10**15)
    found, warnings = run(bomb, "pdf")
    assert found == [] and warnings and {w.code for w in warnings} <= {"embedded-limit", "embedded-corrupt"}
    inflate_bomb = pdf_bytes([(jpeg_bytes(9) + b"\0" * 2_000_000, True)])
    found, warnings = run(inflate_bomb, "pdf", EmbeddedLimits(max_picture_bytes=1_000_000))
    assert found == [] and [w.code for w in warnings] == ["embedded-limit"]
    assert warnings[0].locator is not None and warnings[0].locator.leaf.value == "pdf-obj-5"
    found, warnings = run(b"%PDF-1.4\n" + b"\x00garbage" * 100, "pdf")
    assert found == [] and all(w.code == "embedded-corrupt" for w in warnings)


def test_pdf_limits_stop_the_walk() -> None:
    data = pdf_bytes([(jpeg_bytes(i), False) for i in range(3)])
    found, warnings = run(data, "pdf", EmbeddedLimits(max_pictures=2))
    assert len(found) == 2 and [w.code for w in warnings] == ["embedded-limit"]
    found, warnings = run(data, "pdf", EmbeddedLimits(max_objects=4))
    assert found == [] and [w.code for w in warnings] == ["embedded-limit"]
    found, warnings = run(data, "pdf", EmbeddedLimits(max_seconds=-1))
    assert found == [] and [w.code for w in warnings] == ["embedded-limit"] and "time" in warnings[0].message


def test_encrypted_pdf_with_user_password_is_a_warning() -> None:
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes([(jpeg_bytes(10), False)])))
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    found, warnings = run(buf.getvalue(), "pdf")
    assert found == [] and [w.code for w in warnings] == ["embedded-encrypted"]


# --- OLE compound files -----------------------------------------------------------------------------------


def test_ole_stream_pictures_are_found_and_reopen() -> None:
    jpg, png = jpeg_bytes(11), _encode(picture(12, (40, 30)), "PNG")
    data = cfb(
        {"Data": b"PICF" + b"\x01" * 68 + jpg + b"\0" * 33 + png + b"tail", "WordDocument": b"\xff\xd8\xff decoy"}
    )
    assert sniff(data[:4096]).name == "ole"
    found, warnings = run(data, "ole", name="letter.doc")
    assert warnings == []
    assert sorted(md5(got) for _, got in found) == sorted([md5(jpg), md5(png)])
    for item, got in found:
        leaf = item.locator.leaf
        assert (leaf.value, leaf.detail) == ("Data", "ole") and str(item.locator).startswith(
            "/exhibit/letter.doc › stream Data["
        )
        assert item.name in (f"Data-{leaf.offset}.jpg", f"Data-{leaf.offset}.png")
        with open_embedded(io.BytesIO(data), leaf) as again:
            assert again.read() == got


def test_ole_with_corrupt_fat_is_a_warning() -> None:
    data = bytearray(cfb({"Data": jpeg_bytes(11)}))
    data[48:52] = struct.pack("<I", 0xFFFFFF00)  # first directory sector far outside the file
    found, warnings = run(bytes(data), "ole")
    assert found == [] and [w.code for w in warnings] == ["embedded-corrupt"]


def test_ole_stream_over_the_limit_is_a_warning() -> None:
    found, warnings = run(cfb({"Data": jpeg_bytes(11)}), "ole", EmbeddedLimits(max_stream_bytes=100))
    assert found == [] and [w.code for w in warnings] == ["embedded-limit"]
    assert warnings[0].locator is not None and str(warnings[0].locator) == "/exhibit/parent › stream Data"


def test_thumbs_db_is_left_to_the_cache_expander() -> None:
    item = Item(Locator.source("/x/Thumbs.db"), "Thumbs.db", 10)
    assert embedded_kind(item, "ole") == "ole"  # the engine asks cache_kind first; see pipeline


# --- Office Open XML --------------------------------------------------------------------------------------


def test_docx_media_parts_come_out_with_notes() -> None:
    png, jpg = _encode(picture(13, (40, 30)), "PNG"), jpeg_bytes(14)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/media/image1.png", png)
        archive.writestr("word/media/image2.jpeg", jpg)
    data = buf.getvalue()
    assert sniff(data[:4096]).name == "ooxml"
    found, warnings = run(data, "ooxml", name="letter.docx")
    assert warnings == []
    assert {item.locator.leaf.value: md5(got) for item, got in found} == {
        "word/media/image1.png": md5(png),
        "word/media/image2.jpeg": md5(jpg),
    }
    for item, _ in found:
        assert item.locator.leaf.kind is LayerKind.ARCHIVE_MEMBER
        assert item.note == f"part {item.locator.leaf.value} of the parent Office Open XML document"


# --- kinds, locators, registry ----------------------------------------------------------------------------


def test_embedded_kind_and_depth() -> None:
    top = Item(Locator.source("/x/a.jpg"), "a.jpg", 10)
    assert [embedded_kind(top, t) for t in ("jpeg", "tiff", "pdf", "ole", "ooxml", "png")] == [
        "jpeg",
        "tiff",
        "pdf",
        "ole",
        "ooxml",
        None,
    ]
    thumb = Item(
        top.locator.child(Layer(LayerKind.EMBEDDED, "exif-thumbnail", offset=1, length=2, detail="exif")), "t", 2
    )
    assert embedded_kind(thumb, "jpeg") is None  # a thumbnail's segments describe its parent
    in_pdf = Item(
        Locator.source("/x/a.pdf").child(Layer(LayerKind.EMBEDDED, "pdf-obj-5", inode=5, detail="pdf")), "p", 2
    )
    assert embedded_kind(in_pdf, "jpeg") == "jpeg"
    assert embedded_kind(in_pdf, "jpeg", EmbeddedLimits(max_depth=1)) is None


def test_embedded_layer_round_trips_and_renders() -> None:
    layers = [
        Layer(LayerKind.EMBEDDED, "exif-thumbnail", offset=30, length=500, detail="exif"),
        Layer(LayerKind.EMBEDDED, "pdf-obj-12", inode=12, detail="pdf"),
        Layer(LayerKind.EMBEDDED, "ObjectPool/_1/Data\x1b", offset=4, length=8, detail="ole"),
    ]
    for layer in layers:
        locator = Locator.source("/e/x").child(layer)
        assert Locator.from_json(locator.to_json()) == locator
    rendered = [str(Locator.source("/e/x").child(layer)) for layer in layers]
    assert rendered == [
        "/e/x › exif-thumbnail[30-530]",
        "/e/x › pdf-obj-12",
        "/e/x › stream ObjectPool/_1/Data\\x1b[4-12]",
    ]


def test_every_producer_reopens_through_the_registry(tmp_path: Path) -> None:
    thumbnail = jpeg_bytes(15, (32, 24))
    files = {
        "a.jpg": (with_app1(jpeg_bytes(16), exif_app1(thumbnail)), "jpeg"),
        "b.pdf": (pdf_bytes([(jpeg_bytes(17), False), (jpeg_bytes(18), True)]), "pdf"),
        "c.doc": (cfb({"Pictures": jpeg_bytes(19)}), "ole"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    evidence = open_source(tmp_path)
    count = 0
    for parent in evidence.items(lambda w: None):
        _, kind = files[parent.name]
        for item, stream in expand_embedded(parent, kind, lambda p=parent: evidence.open(p.locator), lambda w: None):
            got = stream.read()
            with open_locator(evidence, item.locator) as again:
                assert again.read() == got
            count += 1
    assert count == 4


def test_warning_codes_are_stable_names() -> None:
    assert set(WARNING_CODES) == {"embedded-corrupt", "embedded-limit", "embedded-encrypted"}
    assert all(code == code.lower() and " " not in code for code in WARNING_CODES)
