"""The contract every producer keeps: for a sample of each of its formats, the table's claim picks it, its
expansion yields items one layer deeper (of the producer's layer kind) with no warnings, and every item it
yields reopens through the registry from its locator alone, byte-identical to what the expansion gave.

A producer added to ``evidence.producers.PRODUCERS`` without a sample here fails
``test_every_producer_has_a_sample``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from safenet.analysis.filetype import HEAD_BYTES, sniff
from safenet.evidence.carve import REGION, CarveLimits
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import EvidenceWarning, Item, OpenContext
from safenet.evidence.producers import BY_LAYER, PRODUCERS, Context, Limits, claim, producer_names
from safenet.evidence.registry import open_locator, open_sibling, open_source
from tests.builders import jpeg, png, zip_bytes
from tests.datafiles import DATA
from tests.evidence.archive_builders import tar_bytes, tar_file
from tests.evidence.browser_cache_builders import BlockfileCache, firefox_entry, simple_entry, thumbdata
from tests.evidence.mail_builders import emlx, mbox, message
from tests.evidence.test_embedded import exif_app1, pdf_bytes, with_app1
from tests.evidence.test_image_unallocated import fat_image
from tests.evidence.test_thumbcache_thumbsdb import catalog, cfb, thumb

ALL = frozenset(producer_names())
LIMITS = Limits(carve=CarveLimits(alignment=512))  # the engine's carving setting (sector starts)


@dataclass(frozen=True)
class Sample:
    producer: str
    kind: str  # the producer's format the claim must name
    build: Callable[[Path], Path]  # writes the exhibit under the folder given; returns the source to open
    parent: Callable[[Item], bool]  # which listed item is the sample
    count: int  # items the expansion must yield
    context: OpenContext | None = None
    layer: LayerKind | None = None  # the yielded items' layer kind when not the producer's own

    @property
    def id(self) -> str:
        return f"{self.producer}-{self.kind}"


def _files(files: dict[str, bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        for rel, data in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        return folder

    return build


def _named(name: str) -> Callable[[Item], bool]:
    return lambda item: item.name == name


def _thumbcache(folder: Path) -> Path:
    shutil.copyfile(DATA / "thumbcache" / "windows_10" / "thumbcache_256.db", folder / "thumbcache_256.db")
    return folder


def _blockfile(folder: Path) -> Path:
    cache = BlockfileCache()
    cache.add("https://example.org/small.jpg", jpeg(31, (24, 16)))
    cache.add("https://example.org/large.png", png(32, (64, 64)))
    cache.write(folder / "Cache")
    return folder


def _fat(folder: Path) -> Path:
    image, _ = fat_image(folder)
    return image


def _tar_gz() -> bytes:
    return tar_bytes([tar_file("a.jpg", jpeg(3)), tar_file("b/c.txt", b"plain text\n")], mode="w:gz")


_FIREFOX = "cache2/entries/" + "0123456789ABCDEF0123456789ABCDEF01234567"
_THUMBS = cfb(
    {"Catalog": catalog([(1, "holiday.jpg"), (2, "beach.jpg")]), "1": thumb(1, jpeg(11)), "2": thumb(2, jpeg(12))}
)

SAMPLES: tuple[Sample, ...] = (
    Sample(
        "archive", "zip", _files({"a.zip": zip_bytes({"a.jpg": jpeg(1), "docs/b.txt": b"x" * 300})}), _named("a.zip"), 2
    ),
    Sample("archive", "gzip", _files({"a.tar.gz": _tar_gz()}), _named("a.tar.gz"), 2),
    Sample("cache", "thumbcache", _thumbcache, _named("thumbcache_256.db"), 1),
    Sample("cache", "thumbs.db", _files({"Thumbs.db": _THUMBS}), _named("Thumbs.db"), 2),
    Sample(
        "cache",
        "firefox-cache2",
        _files({_FIREFOX: firefox_entry(jpeg(13), ":https://example.org/a.jpg")}),
        lambda item: item.locator.leaf.value.endswith(_FIREFOX),
        1,
    ),
    Sample(
        "cache",
        "chrome-simple",
        _files({"Cache_Data/0123456789abcdef_0": simple_entry(jpeg(14), "1/0/https://example.org/b.jpg")}),
        _named("0123456789abcdef_0"),
        1,
    ),
    Sample("cache", "chrome-blockfile", _blockfile, _named("data_1"), 2),  # data_2's body too, read beside it
    Sample(
        "cache",
        "android-thumbdata",
        _files({".thumbdata3--1967290299": thumbdata([jpeg(15), jpeg(16)])}),
        _named(".thumbdata3--1967290299"),
        2,
    ),
    Sample(
        "embedded",
        "jpeg",
        _files({"a.jpg": with_app1(jpeg(20, (96, 64)), exif_app1(jpeg(21, (32, 24))))}),
        _named("a.jpg"),
        1,
    ),
    Sample("embedded", "pdf", _files({"b.pdf": pdf_bytes([(jpeg(22), False), (jpeg(23), True)])}), _named("b.pdf"), 2),
    Sample("embedded", "ole", _files({"c.doc": cfb({"Pictures": jpeg(24)})}), _named("c.doc"), 1),
    Sample(
        "embedded",
        "ooxml",
        _files(
            {
                "d.docx": zip_bytes(
                    {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>", "word/media/image1.png": png(25)}
                )
            }
        ),
        _named("d.docx"),
        1,
        layer=LayerKind.ARCHIVE_MEMBER,  # a document's parts are members of its zip, reopened as such
    ),
    Sample(
        "mail",
        "mbox",
        _files(
            {
                "Mail/Local Folders/Sent": mbox(
                    [
                        message("a", [("a.jpg", jpeg(26), "image/jpeg"), ("b.png", png(27), "image/png")]),
                        message("b", [("c.zip", zip_bytes({"d.jpg": jpeg(28)}), "application/zip")]),
                    ]
                )
            }
        ),
        _named("Sent"),
        3,
    ),
    Sample(
        "mail",
        "eml",
        _files(
            {
                "x.eml": message(
                    "c", [("e.jpg", jpeg(29), "image/jpeg")], forwarded=message("d", [("f.png", png(30), "image/png")])
                ).as_bytes()
            }
        ),
        _named("x.eml"),
        2,
    ),
    Sample(
        "mail",
        "emlx",
        _files(
            {"Sent Messages.mbox/Messages/1.emlx": emlx(message("e", [("g.jpg", jpeg(31), "image/jpeg")]).as_bytes())}
        ),
        _named("1.emlx"),
        1,
    ),
    Sample(
        "carving",
        REGION,
        _fat,
        lambda item: item.locator.leaf.detail == REGION and item.name == "$Unallocated",
        1,
        OpenContext(unallocated=True),
    ),
)


def test_every_producer_has_a_sample() -> None:
    assert {sample.producer for sample in SAMPLES} == ALL
    assert {producer.LAYER for producer in PRODUCERS} == set(BY_LAYER)


def test_producer_names_and_layers_are_stable() -> None:
    # NAMEs appear in docs and profiles; layer kinds are stored in case files
    assert [(p.NAME, p.LAYER) for p in PRODUCERS] == [
        ("archive", LayerKind.ARCHIVE_MEMBER),
        ("cache", LayerKind.CACHE_ENTRY),
        ("embedded", LayerKind.EMBEDDED),
        ("mail", LayerKind.MAIL_ATTACHMENT),
        ("carving", LayerKind.CARVED),
    ]
    assert all(code == code.lower() and " " not in code for p in PRODUCERS for code in p.WARNING_CODES)


def _needs_fat(sample: Sample) -> bool:
    return sample.producer == "carving" and not (shutil.which("mkfs.vfat") and shutil.which("mcopy"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_expand_then_reopen_every_locator_byte_identical(sample: Sample, tmp_path: Path) -> None:
    if _needs_fat(sample):
        pytest.skip("dosfstools/mtools missing (make sysdeps-test)")
    (tmp_path / "exhibit").mkdir()
    evidence = open_source(sample.build(tmp_path / "exhibit"), sample.context)
    (parent,) = [item for item in evidence.items(lambda w: None) if sample.parent(item)]
    filetype = None
    if parent.locator.leaf.detail != REGION:  # a region is never read whole: it is claimed unread
        with open_locator(evidence, parent.locator) as stream:
            filetype = sniff(stream.read(HEAD_BYTES))
    found = claim(parent, filetype, ALL, LIMITS)
    assert found is not None and (found.producer.NAME, found.kind, found.reads) == (sample.producer, sample.kind, True)

    warnings: list[EvidenceWarning] = []
    context = Context(warnings.append, LIMITS, siblings=partial(open_sibling, evidence, parent.locator))
    expansion = found.producer.expand(parent, found, partial(open_locator, evidence, parent.locator), context)
    yielded = [(item, stream.read()) for item, stream in expansion]
    assert warnings == []
    assert len(yielded) == sample.count
    for item, data in yielded:
        assert item.locator.layers[:-1] == parent.locator.layers
        assert item.locator.leaf.kind is (sample.layer or found.producer.LAYER)
        with open_locator(evidence, item.locator) as again:
            assert again.read() == data, str(item.locator)


def test_nested_layers_reopen_through_every_producer_on_the_way(tmp_path: Path) -> None:
    """An EXIF thumbnail of a picture inside a zip: two producers' layers, reopened in one go (the member
    stream cannot seek, so the registry spools it for the embedded producer)."""
    thumbnail = jpeg(41, (32, 24))
    picture = with_app1(jpeg(40, (96, 64)), exif_app1(thumbnail))
    zipped = zip_bytes({"photos/p.jpg": picture})
    (tmp_path / "a.zip").write_bytes(zipped)
    evidence = open_source(tmp_path)
    (archive,) = evidence.items(lambda w: None)
    archive_claim = claim(archive, sniff(zipped[:HEAD_BYTES]), ALL, LIMITS)
    assert archive_claim is not None
    context = Context(lambda w: pytest.fail(str(w)), LIMITS)
    opener = partial(open_locator, evidence, archive.locator)
    found: list[bytes] = []
    for member, stream in archive_claim.producer.expand(archive, archive_claim, opener, context):
        data = stream.read()
        inner = claim(member, sniff(data[:HEAD_BYTES]), ALL, LIMITS)
        assert inner is not None and inner.producer.NAME == "embedded"
        for item, inner_stream in inner.producer.expand(
            member, inner, partial(open_locator, evidence, member.locator), context
        ):
            assert [layer.kind for layer in item.locator.layers[-2:]] == [LayerKind.ARCHIVE_MEMBER, LayerKind.EMBEDDED]
            found.append(inner_stream.read())
            with open_locator(evidence, item.locator) as again:
                assert again.read() == found[-1]
    assert found == [thumbnail]


def test_claim_follows_the_table_order(tmp_path: Path) -> None:
    """An OLE file named Thumbs.db is a cache before it is a document with pictures; with caches not
    enabled the next producer in the table claims it."""
    (tmp_path / "Thumbs.db").write_bytes(_THUMBS)
    (item,) = open_source(tmp_path).items(lambda w: None)
    ole = sniff(_THUMBS[:HEAD_BYTES])
    first = claim(item, ole, ALL, LIMITS)
    assert first is not None and first.producer.NAME == "cache"
    second = claim(item, ole, ALL - {"cache"}, LIMITS)
    assert second is not None and (second.producer.NAME, second.kind) == ("embedded", "ole")
    assert claim(item, ole, frozenset(), LIMITS) is None
