"""Outlook PST/OST attachments. No PST writer exists and no small PST file under a licence that lets it into
the repository was found, so the walk is tested on objects that answer like libpff's (``pypff``: the same
method names and the same failures), and libpff itself on what can be built: a file it must refuse."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from safenet.analysis.appmedia import MediaKind, classify_mail
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.mail import expand_mail, mailbox_of, open_mail_attachment, pst
from safenet.evidence.mail.common import MailLimits, PstPlace, parse_detail, pst_detail
from safenet.evidence.model import EvidenceError, EvidenceWarning, Item
from tests.builders import jpeg, png


@dataclass
class FakeAttachment:
    name: str
    data: bytes | None  # None: an attached Outlook item (no data of its own)
    broken: bool = False
    _pos: int = 0

    def get_size(self) -> int | None:
        if self.broken:
            raise OSError("pypff_attachment_get_size: unable to retrieve size")
        return None if self.data is None else len(self.data)

    def seek_offset(self, offset: int) -> None:
        self._pos = offset

    def read_buffer(self, size: int) -> bytes:
        assert self.data is not None
        return self.data[self._pos : self._pos + size]

    def get_long_filename(self) -> str:
        return self.name


@dataclass
class FakeMessage:
    identifier: int
    subject: str
    attachments: list[FakeAttachment] = field(default_factory=list)

    def get_identifier(self) -> int:
        return self.identifier

    def get_subject(self) -> str:
        return self.subject

    def get_client_submit_time(self) -> datetime:
        return datetime(2024, 2, 1, 9, 0) if self.identifier == 0x200024 else datetime(1601, 1, 1)  # unset

    def get_delivery_time(self) -> datetime:
        raise OSError("pypff_message_get_delivery_time: unable to retrieve delivery time")

    def get_number_of_attachments(self) -> int:
        return len(self.attachments)

    def get_attachment(self, index: int) -> FakeAttachment:
        return self.attachments[index]


@dataclass
class FakeFolder:
    name: str
    messages: list[FakeMessage] = field(default_factory=list)
    subs: list[FakeFolder] = field(default_factory=list)

    def get_name(self) -> str:
        return self.name

    def get_number_of_sub_messages(self) -> int:
        return len(self.messages)

    def get_sub_message(self, index: int) -> FakeMessage:
        return self.messages[index]

    def get_number_of_sub_folders(self) -> int:
        return len(self.subs)

    def get_sub_folder(self, index: int) -> FakeFolder:
        if not 0 <= index < len(self.subs):
            raise OSError("pypff_folder_get_sub_folder: invalid sub folder index")  # as libpff says it
        return self.subs[index]


@dataclass
class FakePst:
    root: FakeFolder
    closed: bool = False

    def get_root_folder(self) -> FakeFolder:
        return self.root

    def close(self) -> None:
        self.closed = True


def _pst() -> FakePst:
    sent = FakeFolder(
        "Sent Items",
        [
            FakeMessage(
                0x200024,
                "holiday",
                [
                    FakeAttachment("a.jpg", jpeg(1)),
                    FakeAttachment("sig.txt", b"regards\n"),
                    FakeAttachment("", None),
                    FakeAttachment("broken.jpg", jpeg(9), broken=True),
                ],
            ),
            FakeMessage(0x200044, "", [FakeAttachment("b.png", png(2))]),
        ],
    )
    inbox = FakeFolder("Inbox", [FakeMessage(0x200064, "hi", [FakeAttachment("c.jpg", jpeg(3))])])
    return FakePst(FakeFolder("", subs=[FakeFolder("Top of Personal Folders", subs=[inbox, sent])]))


def _parent() -> Item:
    return Item(Locator.source("/ev").child(Layer(LayerKind.PATH, "Users/x/outlook.pst")), "outlook.pst", 1024)


def test_the_walk_takes_every_attachment_of_a_known_type_folder_by_folder() -> None:
    reports: list[tuple[str, str]] = []
    found = list(pst.pst_attachments(_pst(), MailLimits(), lambda code, msg: reports.append((code, msg))))
    assert [(a.place, a.identifier, a.filename, a.data) for a in found] == [
        (PstPlace((0, 0), 0, 0, "Top of Personal Folders/Inbox"), 0x200064, "c.jpg", jpeg(3)),
        (PstPlace((0, 1), 0, 0, "Top of Personal Folders/Sent Items"), 0x200024, "a.jpg", jpeg(1)),
        (PstPlace((0, 1), 1, 0, "Top of Personal Folders/Sent Items"), 0x200044, "b.png", png(2)),
    ]
    assert [code for code, _ in reports] == ["mail-corrupt"] and "attachment 3" in reports[0][1]


def test_pst_attachments_become_items_that_reopen_and_sent_items_are_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _pst()
    monkeypatch.setattr(pst, "open_pst", lambda stream: fake)
    warnings: list[EvidenceWarning] = []
    found = [(i, s.read()) for i, s in expand_mail(_parent(), "pst", lambda: io.BytesIO(b"!BDN"), warnings.append)]
    assert [w.code for w in warnings] == ["mail-corrupt"] and fake.closed
    assert [item.name for item, _ in found] == ["c.jpg", "a.jpg", "b.png"]
    sent = found[1][0]
    leaf = sent.locator.leaf
    assert (leaf.kind, leaf.inode, leaf.detail) == (
        LayerKind.MAIL_ATTACHMENT,
        0x200024,
        "pst:0.1:0:0:Top of Personal Folders/Sent Items",
    )
    assert leaf.value == "Top of Personal Folders/Sent Items › message 2097188 › a.jpg"
    assert (
        sent.note == "attachment a.jpg of the message 2097188 in the PST/OST folder Top of Personal Folders/Sent Items"
    )
    assert "holiday" not in str(sent)  # the subject may describe the material: never in notes or locators
    assert sent.modified is not None and sent.modified.value == datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
    assert found[2][0].modified is None  # no submit time, and the delivery time cannot be read
    media = classify_mail(mailbox_of(sent.locator.layers) or "")
    assert media is not None and (media.kind, media.app) == (MediaKind.SENT, "e-mail")
    assert classify_mail(mailbox_of(found[0][0].locator.layers) or "") is None  # the Inbox
    for item, data in found:
        assert open_mail_attachment(io.BytesIO(b"!BDN"), item.locator.leaf).read() == data


def test_a_different_message_at_the_same_place_is_an_error() -> None:
    place = PstPlace((0, 1), 0, 0, "Top of Personal Folders/Sent Items")
    assert pst.open_attachment(_pst(), 0x200024, place, MailLimits()) == jpeg(1)
    with pytest.raises(EvidenceError, match="not at its place"):
        pst.open_attachment(_pst(), 0x999, place, MailLimits())
    with pytest.raises(EvidenceError, match="not found"):
        pst.open_attachment(_pst(), 0x200024, PstPlace((5,), 0, 0, ""), MailLimits())


def test_folders_nested_too_deep_are_reported() -> None:
    folder = FakeFolder("deepest", [FakeMessage(1, "", [FakeAttachment("z.jpg", jpeg(4))])])
    for level in range(10):
        folder = FakeFolder(f"f{level}", subs=[folder])
    reports: list[str] = []
    found = list(pst.pst_attachments(FakePst(folder), MailLimits(max_folder_depth=4), lambda c, m: reports.append(c)))
    assert found == [] and reports == ["mail-limit"]


def test_pst_details_round_trip_with_any_folder_name() -> None:
    for place in (PstPlace((), 3, 1, ""), PstPlace((0, 12, 3), 0, 0, "a:b/c › d")):
        layer = Layer(LayerKind.MAIL_ATTACHMENT, "x", detail=pst_detail(place))
        assert parse_detail(layer) == ("pst", place)


def test_libpff_is_the_pinned_binding() -> None:
    pypff = pytest.importorskip("pypff")
    assert pypff.get_version() == "20260926"
    assert not pypff.check_file_signature_file_object(io.BytesIO(b"not a pst" * 100))
