"""Evidence names are shown with every character visible: nothing invisible, nothing that reorders text."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.cli import Exit, main
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from tests.builders import jpeg


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\u200bb.jpg", "a\\u200bb.jpg"),  # zero-width space
        ("a\u200db.jpg", "a\\u200db.jpg"),  # zero-width joiner
        ("\ufeffx.jpg", "\\ufeffx.jpg"),  # byte-order mark / zero-width no-break space
        ("x\u2060y", "x\\u2060y"),  # word joiner
        ("soft\u00adhyphen", "soft\\xadhyphen"),
        ("x\u202egpj.exe", "x\\u202egpj.exe"),  # right-to-left override
        ("x\u200fy", "x\\u200fy"),  # right-to-left mark
        ("x\u061cy", "x\\u061cy"),  # Arabic letter mark
        ("photo\u00a0.jpg", "photo\\xa0.jpg"),  # no-break space looks like a space
        ("a\u2028b", "a\\u2028b"),  # line separator
        ("\u3164.jpg", "\\u3164.jpg"),  # Hangul filler: printable, draws nothing
        ("x\u2800y", "x\\u2800y"),  # Braille blank
        ("tag\U000e0041", "tag\\U000e0041"),  # tag characters hide text
        ("private\ue000", "private\\ue000"),
    ],
)
def test_invisible_and_bidi_characters_are_escaped(name: str, shown: str) -> None:
    assert display_safe(name) == shown


@pytest.mark.parametrize("name", ["Fotos/Ürlaub 日本.jpg", "Ελληνικά.png", "עברית.jpg", "فارسی.jpg", "emoji 😀.jpg"])
def test_ordinary_text_of_any_script_is_unchanged(name: str) -> None:
    assert display_safe(name) == name


def test_the_locator_rendering_escapes_them() -> None:
    locator = Locator.source("/ev").child(Layer(LayerKind.PATH, "/a\u200b.jpg"))
    assert str(locator) == "/ev › /a\\u200b.jpg"


def test_a_triaged_name_is_recorded_and_listed_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "holiday\u200b.jpg").write_bytes(jpeg(1))
    case = tmp_path / "case"
    assert main(["triage", str(root), "--case", str(case), "--exhibit", "E", "--workers", "1"]) == Exit.OK
    capsys.readouterr()
    with Case.open_existing(case).sessions() as s:
        [row] = s.query(ItemRow).all()
    assert row.name == "holiday\\u200b.jpg" and " › /holiday\\u200b.jpg (inode " in row.display
    assert "\u200b" not in row.display
