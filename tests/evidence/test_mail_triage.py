"""A Thunderbird-like profile on an exhibit: its Sent mbox's attachment of known material is matched, its locator
names the message, and the SFR1 counts it as a sent item (app "e-mail"), per exhibit and category; the same
picture received (in the Inbox) is counted but not as sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.case.schema import ItemRow, WarningRow
from safenet.case.verify import verify_case
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.locator import LayerKind, Locator
from safenet.hashsets.store import HashSetStore
from safenet.report.data import report_data
from safenet.report.sfr1 import render_sfr1_html, sfr1_data
from tests.builders import jpeg, write
from tests.case.test_gradings import build_case
from tests.evidence.mail_builders import base64_part, mbox, message, raw_message
from tests.report.test_sfr1 import _html_text

PROFILE = "Thunderbird/Profiles/abcd.default-release/Mail/Local Folders/"


def test_a_sent_mail_attachment_of_known_material_is_a_sent_item(tmp_path: Path) -> None:
    sent = mbox(
        [
            message("hello", message_id="<plain@example.org>"),
            message("pics", [("IMG_1.jpg", jpeg(1), "image/jpeg")], message_id="<sent-a@example.org>"),
            message("more", [("c.jpg", jpeg(2), "image/jpeg"), ("x.jpg", jpeg(40), "image/jpeg")]),
        ]
    )
    inbox = mbox([message("got", [("in.jpg", jpeg(2), "image/jpeg")], message_id="<in@example.org>")])
    built = build_case(tmp_path)  # exhibit EX1: known pictures on disk, none sent
    laptop = tmp_path / "laptop"
    for name, data in (("Sent", sent), ("Inbox", inbox), ("Sent.msf", b"// mork index\n")):
        write(laptop, PROFILE + name, data)
    options = TriageOptions(
        exhibit="EX2",
        hashsets=("ref-a", "ref-c"),
        operator="DC Op",
        executor=ExecutorKind.INLINE,
        profile=Profile.STANDARD,  # mail is expanded in the lab profiles, like archives
    )
    triage(laptop, built.case, HashSetStore(built.hashdb), options)
    with built.case.sessions() as s:
        rows = {row.name: row for row in s.query(ItemRow) if row.name in ("IMG_1.jpg", "c.jpg", "in.jpg")}
    assert set(rows) == {"IMG_1.jpg", "c.jpg", "in.jpg"}
    locator = Locator.from_json(rows["IMG_1.jpg"].locator)
    assert locator.leaf.kind is LayerKind.MAIL_ATTACHMENT and "<sent-a@example.org>" in locator.leaf.value
    assert locator.layers[-2].value.endswith("Local Folders/Sent")

    report = report_data(built.case)
    matched = {i["locator"][-1]["value"]: i for i in report["items"] if i["locator"][-1]["kind"] == "mail-attachment"}
    assert {v: (i["grading"] or {}).get("outcome") for v, i in matched.items()} == {
        "message 2 <sent-a@example.org> › IMG_1.jpg": "A",
        next(v for v in matched if v.endswith("› c.jpg")): "C",
        "message 1 <in@example.org> › in.jpg": "C",
    }
    data = sfr1_data(built.case, report)
    sent_rows = [row for row in data["app_media"] if row["kind"] == "sent"]
    assert sent_rows == [{"kind": "sent", "counts": [1, 0, 1, 0, 0], "apps": ["e-mail"]}]  # A, B, C, other
    exhibits = {ex["label"]: ex for ex in data["exhibits"]}
    assert [row for row in exhibits["EX2"]["app_media"] if row["kind"] == "sent"] == sent_rows
    assert [row["counts"] for row in exhibits["EX1"]["app_media"] if row["kind"] == "sent"] == [[0, 0, 0, 0, 0]]
    # the dates of the sent pictures are their messages' (Mon, 15 Jan 2024 10:00:00 +0000), in UTC
    times = {i["locator"][-1]["value"]: i.get("modified") for i in matched.values()}
    assert times["message 2 <sent-a@example.org> › IMG_1.jpg"] == "2024-01-15T10:00:00+00:00", times
    text = _html_text(render_sfr1_html(data))
    assert "Sent items (distribution) 1 0 1 0 0 e-mail" in text
    result = verify_case(
        built.case
    )  # every finding reopens from its locator (the message, the part) and hashes the same
    assert result.ok, result.problems
    built.case.close()


@pytest.mark.slow
def test_hostile_mail_in_a_triage_ends_in_warnings_and_the_run_finishes(tmp_path: Path) -> None:
    """A zip bomb attached to a sent message, a message cut short and base64 garbage: each is a warning with a
    locator under the mailbox, the pictures beside them are still matched, and the run completes."""
    import base64
    import io
    import zipfile

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(80 << 20))  # 80 MiB of zeros: past the ratio limit's 64 MiB floor
    sent = mbox(
        [
            message("bomb", [("photos.zip", bomb.getvalue(), "application/zip")]),
            message("pic", [("IMG_1.jpg", jpeg(1), "image/jpeg")], message_id="<known@example.org>"),
        ]
    )
    cut = raw_message([base64_part("x.jpg", "image/jpeg", b"@@" + base64.encodebytes(jpeg(2)))])[:-40]
    built = build_case(tmp_path)
    laptop = tmp_path / "laptop"
    write(laptop, PROFILE + "Sent", sent)
    write(laptop, "Mail/Gesendet/cut.eml", cut)
    options = TriageOptions(
        exhibit="EX2",
        hashsets=("ref-a", "ref-c"),
        operator="DC Op",
        executor=ExecutorKind.INLINE,
        profile=Profile.STANDARD,
    )
    triage(laptop, built.case, HashSetStore(built.hashdb), options)
    with built.case.sessions() as s:
        warnings = [(w.code, Locator.from_json(w.locator)) for w in s.query(WarningRow) if w.locator]
        names = {row.name for row in s.query(ItemRow)}
    codes = {code for code, _ in warnings}
    assert {"archive-bomb", "mail-corrupt"} <= codes, warnings
    bomb_at = next(loc for code, loc in warnings if code == "archive-bomb")
    assert LayerKind.MAIL_ATTACHMENT in {layer.kind for layer in bomb_at.layers}
    assert {"IMG_1.jpg", "x.jpg", "photos.zip"} <= names
    report = report_data(built.case)
    assert any(i["locator"][-1].get("value", "").endswith("IMG_1.jpg") for i in report["items"])
    built.case.close()
