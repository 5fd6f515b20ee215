from __future__ import annotations

import pytest

from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe


def full_chain() -> Locator:
    return Locator(
        (
            Layer(LayerKind.SOURCE, "/evidence/laptop.E01"),
            Layer(LayerKind.IMAGE, "", detail="ewf"),
            Layer(LayerKind.PARTITION, "p2", offset=1048576, length=500 << 20),
            Layer(LayerKind.ENCRYPTION, "bitlocker"),
            Layer(LayerKind.FILESYSTEM, "", detail="NTFS"),
            Layer(LayerKind.PATH, "/Users/a/x.jpg", inode=4711),
            Layer(LayerKind.STREAM, "Zone.Identifier"),
            Layer(LayerKind.EMBEDDED, "pdf-obj-12", inode=12, offset=300, length=4000, detail="pdf"),
            Layer(LayerKind.ARCHIVE_MEMBER, "inner/y.png", detail="zip", offset=30),
            Layer(LayerKind.CARVED, "", offset=4096, length=8192),
            Layer(LayerKind.CACHE_ENTRY, "0x8a3f", detail="thumbcache_256"),
        )
    )


def phone_chain() -> Locator:
    return Locator(
        (
            Layer(LayerKind.SOURCE, "/evidence/backup"),
            Layer(LayerKind.DEVICE, "Apple iPhone12,1 F2LXK0AAAAAA", detail="itunes-backup"),
            Layer(LayerKind.PATH, "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"),
        )
    )


def mail_chain() -> Locator:
    return Locator(
        (
            Layer(LayerKind.SOURCE, "/evidence/laptop"),
            Layer(LayerKind.PATH, "Mail/Local Folders/Sent"),
            Layer(LayerKind.MAIL_ATTACHMENT, "message 2 <a@b> › a.jpg", offset=0, length=900, detail="mbox:2"),
        )
    )


def test_every_layer_kind_round_trips_through_json() -> None:
    chains = (full_chain(), phone_chain(), mail_chain())
    assert {layer.kind for chain in chains for layer in chain.layers} == set(LayerKind)
    assert all(Locator.from_json(chain.to_json()) == chain for chain in chains)
    assert str(mail_chain()) == "/evidence/laptop › Mail/Local Folders/Sent › mail message 2 <a@b> › a.jpg"
    assert str(phone_chain()) == (
        "/evidence/backup › Apple iPhone12,1 F2LXK0AAAAAA [itunes-backup] › "
        "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"
    )
    loc = full_chain()
    again = Locator.from_json(loc.to_json())
    assert again == loc
    assert hash(again) == hash(loc)
    assert loc.to_json().isascii()


def test_hostile_names_round_trip_and_render_on_one_line() -> None:
    name = "a\nb\x1b[31mc\udcff\u202egpj.exe"
    loc = Locator.source("/src").child(Layer(LayerKind.PATH, "/" + name))
    assert Locator.from_json(loc.to_json()).leaf.value == "/" + name
    text = str(loc)
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text
    assert "\\n" in text and "\\x1b" in text and "\\xff" in text and "\\u202e" in text


def test_rendering_reads_like_a_path() -> None:
    text = str(full_chain())
    assert text.startswith("/evidence/laptop.E01 › ")
    assert "/Users/a/x.jpg (inode 4711):Zone.Identifier" in text
    assert "carved[4096-12288]" in text
    assert " › pdf-obj-12[300-4300] › " in text


def test_locator_must_start_at_a_source() -> None:
    with pytest.raises(ValueError, match="SOURCE"):
        Locator((Layer(LayerKind.PATH, "/x"),))


def test_archive_depth_and_parent() -> None:
    loc = full_chain()
    assert loc.archive_depth == 1
    assert loc.parent is not None and loc.parent.leaf.kind is LayerKind.CARVED
    assert loc.parent.parent is not None and loc.parent.parent.leaf.kind is LayerKind.ARCHIVE_MEMBER


def test_display_safe_keeps_ordinary_unicode() -> None:
    assert display_safe("Fotos/Ürlaub 日本.jpg") == "Fotos/Ürlaub 日本.jpg"


def test_a_device_address_is_not_a_path() -> None:
    from pathlib import Path

    from safenet.evidence import registry

    registry.DEVICE_SCHEMES.setdefault("android", "safenet.evidence.phone.android_live")
    assert registry.as_source("android://R58M123ABC") == registry.DeviceAddress("android", "R58M123ABC")
    assert str(registry.as_source("android://R58M123ABC")) == "android://R58M123ABC"
    assert registry.as_source("/evidence/android:/x") == Path("/evidence/android:/x")
    assert registry.as_source("nosuch://x") == Path("nosuch://x")  # an unknown scheme is a (strange) path
