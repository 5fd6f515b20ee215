"""The mail producer: mbox and .eml attachments become items that reopen from their locators; mailboxes are
recognised by content; the mailbox an attachment came from is known (for the sent flag)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from safenet.analysis.appmedia import MediaKind, classify_item, classify_mail
from safenet.analysis.filetype import sniff
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.mail import expand_mail, mail_kind, mailbox_of, open_mail_attachment
from safenet.evidence.mail.common import MailLimits, decode_base64
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item, TimeSource
from safenet.evidence.producers import Limits
from tests.builders import jpeg, png, zip_bytes
from tests.evidence.mail_builders import emlx, mbox, message

SENT = "Profiles/abcd.default-release/Mail/Local Folders/Sent"


def _item(path: str, data: bytes) -> Item:
    return Item(Locator.source("/ev").child(Layer(LayerKind.PATH, path)), path.rsplit("/", 1)[-1], len(data))


def _expand(
    data: bytes, kind: str, path: str = SENT, limits: MailLimits | None = None
) -> tuple[list[tuple[Item, bytes]], list[EvidenceWarning]]:
    warnings: list[EvidenceWarning] = []
    found = [
        (item, stream.read())
        for item, stream in expand_mail(_item(path, data), kind, lambda: io.BytesIO(data), warnings.append, limits)
    ]
    return found, warnings


def _reopen(data: bytes, item: Item) -> bytes:
    return open_mail_attachment(io.BytesIO(data), item.locator.leaf).read()


def test_mailboxes_are_recognised_by_content() -> None:
    box = mbox([message("one", [("a.jpg", jpeg(1), "image/jpeg")])])
    assert sniff(box[:4096]).name == "mbox"
    assert sniff(message("two").as_bytes()[:4096]).name == "eml"
    assert sniff(b"!BDN" + bytes(60)).name == "pst"
    for text in (b"From here on, a letter.\nDear: friend\n", b"Subject: only one field\n\nbody", b"To: x\n"):
        assert sniff(text).name == "unknown", text


def test_an_mbox_yields_every_attachment_and_each_reopens_byte_identical() -> None:
    forwarded = message("fw", [("inner.png", png(5), "image/png")], message_id="<inner@example.org>")
    box = mbox(
        [
            message("no attachment", message_id="<m1@example.org>"),
            message(
                "two",
                [("a.jpg", jpeg(1), "image/jpeg"), ("notes.txt", b"text\n", "text/plain")],
                message_id="<m2@example.org>",
            ),
            message("From the start", [("b.jpg", jpeg(2), "image/jpeg")], forwarded=forwarded),
        ]
    )
    found, warnings = _expand(box, "mbox")
    assert warnings == []
    assert [(item.name, data) for item, data in found] == [
        ("a.jpg", jpeg(1)),
        ("b.jpg", jpeg(2)),
        ("inner.png", png(5)),
    ]
    first = found[0][0]
    assert first.locator.leaf.kind is LayerKind.MAIL_ATTACHMENT
    assert first.locator.leaf.value == "message 2 <m2@example.org> › a.jpg"
    assert "<m2@example.org>" in str(first.locator) and "Mon, 15 Jan 2024" in (first.note or "")
    assert found[2][0].locator.leaf.detail == "mbox:3.1.2"  # the forwarded message's own attachment
    for item, data in found:
        assert _reopen(box, item) == data


def test_an_eml_file_is_one_message() -> None:
    eml = message("x", [("c.jpg", jpeg(3), "image/jpeg"), ("d.zip", zip_bytes({"e.jpg": jpeg(4)}), "application/zip")])
    data = eml.as_bytes()
    found, warnings = _expand(data, "eml", "Users/x/Documents/Sent/x.eml")
    assert warnings == [] and [item.name for item, _ in found] == ["c.jpg", "d.zip"]  # an attached archive too
    assert all(_reopen(data, item) == got for item, got in found)


def test_the_mailbox_of_an_attachment_and_the_sent_flag() -> None:
    box = mbox([message("s", [("a.jpg", jpeg(1), "image/jpeg")])])
    ((item, _),) = _expand(box, "mbox")[0]
    assert mailbox_of(item.locator.layers) == SENT
    media = classify_item(SENT, mailbox_of(item.locator.layers))
    assert media is not None and (media.kind, media.app) == (MediaKind.SENT, "e-mail")
    ((inbox, _),) = _expand(box, "mbox", "Mail/Local Folders/Inbox")[0]
    assert classify_item("Mail/Local Folders/Inbox", mailbox_of(inbox.locator.layers)) is None
    ((eml, _),) = _expand(box.split(b"\r\n", 1)[1], "eml", "Mail/Gesendete Elemente/x.eml")[0]
    assert mailbox_of(eml.locator.layers) == "Mail/Gesendete Elemente"
    assert mailbox_of(_item(SENT, b"").locator.layers) is None  # not an attachment: the path rules apply
    # a picture in a folder named Sent on disk is not sent mail
    assert classify_item("Pictures/Sent/a.jpg", None) is None


@pytest.mark.parametrize(
    ("mailbox", "sent"),
    [
        ("Mail/Local Folders/Sent", True),
        ("ImapMail/imap.gmail.com/[Gmail].sbd/Sent Mail", True),
        ("outlook.pst/Top of Personal Folders/Sent Items", True),
        ("outlook.pst/Oberste Ebene/Gesendete Elemente", True),
        ("x.pst/Boîte/Éléments envoyés", True),
        ("x.pst/Boîte/E\u0301le\u0301ments envoye\u0301s", True),  # decomposed, as macOS names files
        ("Library/Mail/V10/x/Sent Messages.mbox/mbox", True),
        ("Library/Mail/V10/x/Sent Messages.mbox/0F2A/Data/1/Messages", True),  # .emlx files' folder
        ("Library/Mail/V10/x/INBOX.mbox/0F2A/Data/1/Messages", False),
        ("Mail/Local Folders/Sent-1", True),
        ("Mail/Local Folders/Inbox", False),
        ("Mail/Local Folders/Drafts", False),
        ("Mail/Local Folders/Sentimental", False),
    ],
)
def test_sent_mail_folders(mailbox: str, sent: bool) -> None:
    assert (classify_mail(mailbox) is not None) is sent


def test_mail_inside_mail_stops_at_the_depth_limit() -> None:
    item = _item("x.eml", b"")
    for depth in range(3):
        layer = Layer(LayerKind.MAIL_ATTACHMENT, f"m{depth}", offset=0, length=1, detail="eml:2")
        item = Item(item.locator.child(layer), "x.eml", 1)
    assert mail_kind(item, "eml") is None and mail_kind(_item("x.eml", b""), "eml") == "eml"
    warnings: list[EvidenceWarning] = []
    assert list(expand_mail(item, "eml", lambda: io.BytesIO(b""), warnings.append)) == []
    assert [w.code for w in warnings] == ["mail-limit"]


def test_damaged_layers_do_not_reopen() -> None:
    box = mbox([message("s", [("a.jpg", jpeg(1), "image/jpeg")])])
    for layer in (
        Layer(LayerKind.MAIL_ATTACHMENT, "m", offset=0, length=len(box) + 1, detail="mbox:2"),
        Layer(LayerKind.MAIL_ATTACHMENT, "m", offset=0, length=10, detail="mbox:x"),
        Layer(LayerKind.MAIL_ATTACHMENT, "m", offset=len(FROM), length=len(box) - len(FROM), detail="mbox:9"),
        Layer(LayerKind.MAIL_ATTACHMENT, "m", detail="rar:1"),
    ):
        with pytest.raises(EvidenceError):
            open_mail_attachment(io.BytesIO(box), layer)


FROM = b"From - Mon Jan 15 10:00:00 2024\r\n"


@pytest.mark.parametrize(
    ("encoded", "problems"),
    [
        (b"QUJD\r\nREVG\r\n", []),
        (b"QUJDREU=", []),
        (b"QUJD*RE!VG", ["2 characters outside base64 skipped"]),
        (b"QUJDR", ["base64 cut short (one character after the last whole group)"]),
        (b"QUJDREU", ["base64 cut short (the last group has no padding)"]),
        (b"QUI=QUJD", ["base64 padding in the middle of the data", "base64 cut short (the last group has no padding)"]),
    ],
)
def test_base64_is_decoded_leniently_and_every_fault_is_said(encoded: bytes, problems: list[str]) -> None:
    data, found = decode_base64(encoded)
    assert found == problems
    clean = bytes(c for c in encoded if chr(c).isalnum() or c in b"+/")
    whole = clean[: len(clean) // 4 * 4]
    assert data.startswith(base64.b64decode(whole)) if whole else True


def test_pictures_in_a_folder_tree_of_a_thunderbird_profile(tmp_path: Path) -> None:
    """The mbox files of a profile are claimed by content (no extension), their .msf indexes are not."""
    root = tmp_path / "Mail" / "Local Folders"
    root.mkdir(parents=True)
    box = mbox([message("s", [("a.jpg", jpeg(1), "image/jpeg")])])
    (root / "Sent").write_bytes(box)
    (root / "Sent.msf").write_bytes(b'// <!-- <mdb:mork:z v="1.4"/> -->\n')
    assert sniff(box[:4096]).name == "mbox" and sniff((root / "Sent.msf").read_bytes()).name == "unknown"


@pytest.mark.parametrize("block", [1, 5, 8, 9, 13, 64])
def test_message_boundaries_do_not_depend_on_the_read_block(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from safenet.evidence.mail import mbox as reader

    box = mbox([message(str(n), [("a.jpg", jpeg(n), "image/jpeg")]) for n in range(3)])
    box += b"From - unix\n\nFrom - x\nSubject: lf only\n\nbody\n"  # LF lines; an empty message in between
    expected = list(reader.message_ranges(io.BytesIO(box), 100, pytest.fail))
    assert len(expected) == 5 and expected[3][1] == 1
    monkeypatch.setattr(reader, "BLOCK", block)
    assert list(reader.message_ranges(io.BytesIO(box), 100, pytest.fail)) == expected
    for offset, _length in expected:
        assert box[:offset].endswith((b"From - Mon Jan 15 10:00:00 2024\r\n", b"From - unix\n", b"From - x\n"))


def test_an_attachment_s_time_is_its_message_s_date() -> None:
    dated = message("d", [("a.jpg", jpeg(1), "image/jpeg")])  # Mon, 15 Jan 2024 10:00:00 +0000
    del dated["Date"]
    dated["Date"] = "Mon, 15 Jan 2024 11:30:00 +0100"
    unknown = message("u", [("b.jpg", jpeg(2), "image/jpeg")])
    del unknown["Date"]
    unknown["Date"] = "Mon, 15 Jan 2024 11:30:00 -0000"  # RFC 5322: the zone is not known
    broken = message("b", [("c.jpg", jpeg(3), "image/jpeg")])
    del broken["Date"]
    broken["Date"] = "yesterday, around noon"
    found, warnings = _expand(mbox([dated, unknown, broken]), "mbox")
    assert warnings == []
    times = [item.modified for item, _ in found]
    assert times[0] is not None and times[0].source is TimeSource.MAIL and times[0].zone_known
    assert times[0].value == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert times[1] is not None and not times[1].zone_known and times[1].value == datetime(2024, 1, 15, 11, 30)
    assert times[2] is None


APPLE_SENT = "Users/x/Library/Mail/V10/0A1B/Sent Messages.mbox/2C3D/Data/1/Messages"


def test_an_apple_mail_emlx_is_one_message_and_its_folder_says_sent() -> None:
    msg = message("apple", [("IMG_2.jpg", jpeg(2), "image/jpeg")]).as_bytes()
    data = emlx(msg)
    assert sniff(data[:4096]).name == "emlx"
    found, warnings = _expand(data, "emlx", f"{APPLE_SENT}/123.emlx")
    assert warnings == [] and [(item.name, got) for item, got in found] == [("IMG_2.jpg", jpeg(2))]
    item = found[0][0]
    assert item.locator.leaf.detail == "emlx:2" and item.locator.leaf.offset == data.index(b"\n") + 1
    assert _reopen(data, item) == jpeg(2)
    assert mailbox_of(item.locator.layers) == APPLE_SENT
    media = classify_item(APPLE_SENT + "/123.emlx", mailbox_of(item.locator.layers))
    assert media is not None and media.kind is MediaKind.SENT
    # a byte count past the end: read as far as the file goes, and said
    cut, warned = _expand(emlx(msg, len(msg) + 10_000)[: len(msg) + 20], "emlx", "x.emlx")
    assert [item.name for item, _ in cut] == ["IMG_2.jpg"] and [w.code for w in warned] == ["mail-corrupt"]


def test_attachments_apple_mail_saved_beside_sent_mail_are_sent_items() -> None:
    saved = "Users/x/Library/Mail/V10/0A1B/Sent Messages.mbox/2C3D/Data/1/Attachments/123/2/IMG_3.jpg"
    media = classify_item(saved, None)
    assert media is not None and (media.kind, media.app) == (MediaKind.SENT, "e-mail")
    assert classify_item(saved.replace("Sent Messages", "INBOX"), None) is None
    assert classify_item(saved.replace("Sent Messages", "Gesendete Objekte"), None) is not None


def test_a_mailbox_inside_a_zip_reopens_through_both_layers(tmp_path: Path) -> None:
    """An exported Sent mbox inside a zip: the archive's member, then the mail attachment, reopened in one go
    from the locator (the member stream cannot seek, so the registry spools it for the mail producer)."""
    from functools import partial

    from safenet.analysis.filetype import HEAD_BYTES
    from safenet.evidence.producers import Context, claim, producer_names
    from safenet.evidence.registry import open_locator, open_source

    box = mbox([message("s", [("a.jpg", jpeg(1), "image/jpeg")])])
    (tmp_path / "export.zip").write_bytes(zip_bytes({"Mail/Sent": box}))
    evidence = open_source(tmp_path)
    (archive,) = evidence.items(lambda w: None)
    enabled = frozenset(producer_names())
    outer = claim(archive, sniff((tmp_path / "export.zip").read_bytes()[:HEAD_BYTES]), enabled, Limits())
    assert outer is not None
    context = Context(lambda w: pytest.fail(str(w)), Limits())
    found = []
    for member, stream in outer.producer.expand(
        archive, outer, partial(open_locator, evidence, archive.locator), context
    ):
        data = stream.read()
        inner = claim(member, sniff(data[:HEAD_BYTES]), enabled, Limits())
        assert inner is not None and inner.producer.NAME == "mail"
        opener = partial(open_locator, evidence, member.locator)
        for item, inner_stream in inner.producer.expand(member, inner, opener, context):
            assert mailbox_of(item.locator.layers) == "Mail/Sent"  # the member's name: a sent-mail folder
            got = inner_stream.read()
            with open_locator(evidence, item.locator) as again:
                assert again.read() == got
            found.append(got)
    assert found == [jpeg(1)]
