"""Hostile mail: every fault ends in a warning with the locator of the mailbox (or of the part), what stands
before it is kept, and the expansion goes on to the next message."""

from __future__ import annotations

import base64
import io

import pytest

from safenet.analysis.filetype import HEAD_BYTES, sniff
from safenet.evidence.archive import ArchiveLimits
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.mail import expand_mail, open_mail_attachment
from safenet.evidence.mail.common import MailLimits
from safenet.evidence.model import EvidenceWarning, Item
from safenet.evidence.producers import Context, Limits, claim, producer_names
from tests.builders import jpeg, png
from tests.evidence.mail_builders import base64_part, mbox, message, raw_message

GOOD = base64_part("good.jpg", "image/jpeg", base64.encodebytes(jpeg(1)))


def _item(data: bytes, name: str = "x.eml") -> Item:
    return Item(Locator.source("/ev").child(Layer(LayerKind.PATH, name)), name, len(data))


def _expand(
    data: bytes, kind: str = "eml", limits: MailLimits | None = None
) -> tuple[list[tuple[Item, bytes]], list[EvidenceWarning]]:
    warnings: list[EvidenceWarning] = []
    parent = _item(data)
    found = [(i, s.read()) for i, s in expand_mail(parent, kind, lambda: io.BytesIO(data), warnings.append, limits)]
    for item, got in found:
        assert open_mail_attachment(io.BytesIO(data), item.locator.leaf, limits).read() == got
    return found, warnings


def test_truncated_base64_keeps_what_was_sent_and_says_so() -> None:
    encoded = base64.encodebytes(jpeg(2))
    cut = encoded[:103]  # 102 base64 characters: the last group cut short
    data = raw_message([GOOD, base64_part("cut.jpg", "image/jpeg", cut)])
    found, warnings = _expand(data)
    assert [item.name for item, _ in found] == ["good.jpg", "cut.jpg"]
    assert jpeg(2).startswith(found[1][1]) and 0 < len(found[1][1]) < len(jpeg(2))
    assert [w.code for w in warnings] == ["mail-corrupt"]
    assert "cut short" in warnings[0].message and warnings[0].locator is not None
    assert warnings[0].locator.leaf.detail == "eml:2"  # the part that was cut


def test_a_message_cut_short_says_so_and_keeps_the_parts_before() -> None:
    data = raw_message([GOOD, base64_part("b.jpg", "image/jpeg", base64.encodebytes(jpeg(3)))])
    cut = data[: data.index(b"b.jpg") + 200]  # the file ends inside the second attachment
    found, warnings = _expand(cut)
    assert [got for _, got in found][:1] == [jpeg(1)]
    assert "mail-corrupt" in {w.code for w in warnings}
    assert any("closing boundary" in w.message for w in warnings)


def test_base64_garbage_is_skipped_with_a_warning() -> None:
    encoded = base64.encodebytes(png(3))
    dirty = encoded[:40] + b"\x00\xff!!<>" + encoded[40:]
    found, warnings = _expand(raw_message([base64_part("p.png", "image/png", dirty)]))
    assert [got for _, got in found] == [png(3)]
    assert [w.code for w in warnings] == ["mail-corrupt"] and "outside base64" in warnings[0].message


@pytest.mark.timeout(120)
def test_a_message_of_ten_thousand_parts_stops_at_the_part_limit() -> None:
    parts = [GOOD] + [b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="n.txt"\r\n\r\nx'] * 9_999
    found, warnings = _expand(raw_message(parts))
    assert [item.name for item, _ in found] == ["good.jpg"]
    assert [w.code for w in warnings] == ["mail-limit"] and "2,000 MIME part delimiters" in warnings[0].message


def test_attachments_per_message_are_limited() -> None:
    found, warnings = _expand(raw_message([GOOD] * 5), limits=MailLimits(max_attachments=3))
    assert len(found) == 3 and [w.code for w in warnings] == ["mail-limit"]


def _forwarded(depth: int) -> bytes:
    """A message forwarded ``depth`` times, each level a message/rfc822 part, a picture in the innermost."""
    inner = raw_message([GOOD], boundary=f"b{depth}")
    for level in range(depth - 1, -1, -1):
        part = b"Content-Type: message/rfc822\r\n\r\n" + inner
        inner = raw_message([part], boundary=f"b{level}")
    return inner


def test_deep_forwarding_stops_at_the_nesting_limit_and_the_next_message_is_read() -> None:
    box = mbox([]) + b"From - x\r\n" + _forwarded(40) + b"\r\nFrom - y\r\n" + raw_message([GOOD])
    found, warnings = _expand(box, "mbox")
    assert [item.locator.leaf.detail for item, _ in found] == ["mbox:1"]  # the second message's picture
    assert [w.code for w in warnings] == ["mail-limit"] and "nested deeper than 8" in warnings[0].message
    shallow, none = _expand(_forwarded(3))
    assert none == [] and [item.locator.leaf.detail for item, _ in shallow] == ["eml:1.1.1.1.1.1.1"]


@pytest.mark.timeout(120)
def test_nesting_past_the_parser_s_recursion_is_a_warning() -> None:
    inner = raw_message([GOOD], boundary="x")
    for level in range(3000):
        inner = raw_message([inner], boundary=f"l{level}")  # each part a whole multipart message
    found, warnings = _expand(inner)
    assert found == [] or all(item.name == "good.jpg" for item, _ in found)
    assert {w.code for w in warnings} <= {"mail-corrupt", "mail-limit"} and warnings


def test_an_oversized_message_is_refused_and_the_mailbox_goes_on() -> None:
    big = message("big", [("a.jpg", jpeg(4, (400, 300)), "image/jpeg")])
    small = message("small", [("b.jpg", jpeg(5), "image/jpeg")])
    found, warnings = _expand(mbox([big, small]), "mbox", MailLimits(max_message_bytes=len(small.as_bytes()) + 500))
    assert [item.name for item, _ in found] == ["b.jpg"]
    assert [w.code for w in warnings] == ["mail-limit"] and warnings[0].locator is not None
    assert warnings[0].locator.leaf.kind is LayerKind.MAIL_ATTACHMENT


def test_messages_per_mailbox_are_limited() -> None:
    box = mbox([message(str(n), [("a.jpg", jpeg(n), "image/jpeg")]) for n in range(4)])
    found, warnings = _expand(box, "mbox", MailLimits(max_messages=2))
    assert len(found) == 2 and [w.code for w in warnings] == ["mail-limit"]


def test_a_zip_bomb_attached_is_stopped_by_the_archive_limits() -> None:
    """The attached zip is an item like any other: the archive producer expands it, held to its limits."""
    bomb = _zip_bomb()
    data = message("bomb", [("photos.zip", bomb, "application/zip")]).as_bytes()
    ((attached, got),), warnings = _expand(data)
    assert got == bomb and warnings == []
    limits = Limits(archive=ArchiveLimits(max_ratio=10.0, ratio_floor_bytes=1 << 16))
    found = claim(attached, sniff(got[:HEAD_BYTES]), frozenset(producer_names()), limits)
    assert found is not None and found.producer.NAME == "archive"
    archive_warnings: list[EvidenceWarning] = []
    for _member, stream in found.producer.expand(
        attached, found, lambda: io.BytesIO(got), Context(archive_warnings.append, limits)
    ):
        while stream.read(1 << 20):
            pass
    assert "archive-bomb" in {w.code for w in archive_warnings}
    assert all(w.locator is not None and w.locator.layers[:3] == attached.locator.layers for w in archive_warnings)


def _zip_bomb() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.jpg", jpeg(6))
        zf.writestr("zeros.bin", bytes(8 << 20))
    return buf.getvalue()


def test_a_pst_that_libpff_cannot_read_is_a_warning() -> None:
    pytest.importorskip("pypff")
    data = b"!BDN" + bytes(1020)
    found, warnings = _expand(data, "pst")
    assert found == [] and [w.code for w in warnings] == ["mail-corrupt"]
    assert "libpff cannot read" in warnings[0].message


_INSERTS = (
    b"\r\n--",
    b"=?utf-8?b?",
    b"\n\nFrom x\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b'; boundary="',
    b"=\r\n",
)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_mutated_mailboxes_never_raise_and_every_attachment_reopens(seed: int) -> None:
    """Bytes changed, cut, removed or inserted (MIME delimiters, encoded words, separators) at random, seeded:
    the expansion records warnings, never raises, and each attachment it yields reopens byte-identical."""
    import random

    forwarded = message("fw", [("i.png", png(5), "image/png")])
    box = mbox(
        [
            message("a", [("a.jpg", jpeg(1), "image/jpeg")], forwarded=forwarded),
            message("b", [("b.png", png(3), "image/png")]),
        ]
    )
    rng = random.Random(seed)
    for _ in range(50):
        data = bytearray(box)
        for _ in range(rng.randint(1, 12)):
            i, op = rng.randrange(len(data)), rng.random()
            if op < 0.4:
                data[i] = rng.randrange(256)
            elif op < 0.7:
                del data[i : i + rng.randint(1, 200)]
            elif op < 0.95:
                data[i:i] = rng.choice(_INSERTS)
            else:
                del data[i + 1 :]
        for kind in ("mbox", "eml"):
            _expand(bytes(data), kind)  # reopens every attachment yielded
