"""LocatorTexts renders exactly what Locator.to_json and str give, shared leading layers and all."""

from __future__ import annotations

from safenet.case.locatortexts import LocatorTexts
from safenet.evidence.locator import Layer, LayerKind, Locator

SOURCE = Locator.source("/evidence/ex1")
IMAGE = Locator.source("/evidence/disk.E01").child(Layer(LayerKind.IMAGE, detail="ewf"))
VOLUME = IMAGE.child(Layer(LayerKind.PARTITION, "p1", offset=1048576, detail="ntfs"))
ARCHIVE = SOURCE.child(Layer(LayerKind.PATH, "/Users/a/bundle.zip", inode=12))


def _locators() -> list[Locator]:
    return [
        SOURCE,
        SOURCE.child(Layer(LayerKind.PATH, "/Users/a/IMG_0001.jpg", inode=7)),
        SOURCE.child(Layer(LayerKind.PATH, "/Users/a/IMG_0002.jpg", inode=8)),  # the same head, again
        SOURCE.child(Layer(LayerKind.PATH, "/x\u202egpj.exe\n\udcff")),  # hostile: bidi, newline, a raw byte
        SOURCE.child(Layer(LayerKind.PATH, "/caf\u00e9 \u2603.png", inode=9)),  # not ASCII: escaped in JSON
        VOLUME.child(Layer(LayerKind.PATH, "/Windows/notes.txt", inode=40, offset=4096)),
        VOLUME.child(Layer(LayerKind.PATH, "/Windows/notes.txt", inode=40)).child(Layer(LayerKind.STREAM, "ads")),
        ARCHIVE.child(Layer(LayerKind.ARCHIVE_MEMBER, "inner/1.jpg", detail="zip")),
        ARCHIVE.child(Layer(LayerKind.ARCHIVE_MEMBER, "inner/2.jpg", detail="zip")),
        ARCHIVE.child(Layer(LayerKind.CARVED, offset=100, length=50)),
        ARCHIVE.child(Layer(LayerKind.EMBEDDED, "exif-thumbnail", offset=20, length=300)),
        IMAGE,
        SOURCE.child(Layer(LayerKind.PATH, '/quote " back\\ slash', inode=0, offset=0, length=0)),
        SOURCE.child(Layer(LayerKind.CACHE_ENTRY, "", detail="")),  # empty text: left out, as to_dict does
        SOURCE.child(Layer(LayerKind.PATH, "/odd", inode=True)),  # not a plain int: through the encoder
    ]


def test_texts_are_the_locators_own() -> None:
    texts = LocatorTexts()
    for locator in _locators() * 2:  # the second round reads the heads from the cache
        assert texts.of(locator) == (locator.to_json(), str(locator))


def test_equal_heads_that_are_other_objects_render_alike() -> None:
    texts = LocatorTexts()
    one = Locator.source("/e").child(Layer(LayerKind.PATH, "/a"))
    other = Locator.source("/f").child(Layer(LayerKind.PATH, "/a"))  # another head: never the first's text
    assert texts.of(one) == (one.to_json(), str(one))
    assert texts.of(other) == (other.to_json(), str(other))
