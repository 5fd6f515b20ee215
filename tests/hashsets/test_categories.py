"""Category schemes: shipped data, UK mapping rules, severity order and user scheme files."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.hashsets import HashSetError, get_scheme, load_scheme_file, load_schemes, most_severe, uk_scheme


def test_shipped_schemes() -> None:
    schemes = load_schemes()
    assert set(schemes) == {"uk", "projectvic", "vics-uk", "none"}
    uk = uk_scheme()
    codes = ["A", "B", "C", "prohibited", "extreme", "uncategorised", "non-indecent"]
    assert [c.code for c in uk.categories] == codes
    assert {c.code for c in uk.categories if c.illicit} == {"A", "B", "C", "prohibited", "extreme"}
    severity = {c.code: c.severity for c in uk.categories}
    assert severity["A"] > severity["B"] > severity["C"] > severity["uncategorised"] > severity["non-indecent"]
    # other material (counted apart from A/B/C) ranks below C: "most severe" keeps an A/B/C grade
    assert severity["C"] > severity["prohibited"] > severity["extreme"] > severity["uncategorised"]
    assert most_severe(["prohibited", "C"]) == "C" and most_severe(["extreme", "unknown:9"]) == "extreme"


def test_projectvic_never_collapses_cam_into_a_uk_grade() -> None:
    scheme = get_scheme("projectvic")
    assert scheme.uk_code("0") == "non-indecent"
    for code in ("1", "2", "3", "4"):
        assert scheme.uk_code(code) == "uncategorised"
    category = scheme.lookup("1")
    assert category is not None
    assert category.label == "Child Abuse Material - (CAM)"
    assert category.illicit


def test_vics_uk_is_marked_unconfirmed() -> None:
    scheme = get_scheme("vics-uk")
    assert scheme.confirmed is False
    assert "confirm" in scheme.note
    assert [scheme.uk_code(c) for c in ("0", "1", "2", "3", "4")] == [
        "uncategorised",
        "A",
        "B",
        "C",
        "non-indecent",
    ]
    text = (Path(__file__).resolve().parents[2] / "src/safenet/hashsets/schemes/vics-uk.yaml").read_text()
    assert "confirmed: false" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, "uncategorised"), ("", "uncategorised"), (" 1 ", "A"), ("7", "unknown:7"), ("A", "unknown:A")],
)
def test_uk_code(raw: str | None, expected: str) -> None:
    assert get_scheme("vics-uk").uk_code(raw) == expected


def test_none_scheme_has_everything_uncategorised() -> None:
    scheme = get_scheme("none")
    assert scheme.uk_code(None) == "uncategorised"
    assert scheme.lookup("1") is None


def test_unknown_scheme_name() -> None:
    with pytest.raises(HashSetError, match="unknown category scheme 'nope'; use one of"):
        get_scheme("nope")


def test_most_severe() -> None:
    assert most_severe(["C", "A", "B"]) == "A"
    assert most_severe(["non-indecent", "unknown:7", "C"]) == "C"
    assert most_severe(["non-indecent", "unknown:7", "uncategorised"]) == "unknown:7"
    assert most_severe(["non-indecent", "uncategorised"]) == "uncategorised"
    assert most_severe(["non-indecent"]) == "non-indecent"
    assert most_severe(["unknown:9", "unknown:7"]) == "unknown:7"  # ties broken by code: reproducible
    with pytest.raises(ValueError, match="at least one"):
        most_severe([])


def test_load_scheme_file(tmp_path: Path) -> None:
    path = tmp_path / "force.yaml"
    path.write_text(
        "name: force-x\nlabel: Force X codes\nconfirmed: true\n"
        "categories:\n  - {code: 10, label: Cat A, severity: 40, illicit: true}\n"
        "  - {code: '20', label: Cat B, severity: 30, illicit: true}\n"
        "to_uk: {10: A, '20': B}\n"
    )
    scheme = load_scheme_file(path)
    assert scheme.name == "force-x"
    assert scheme.uk_code("10") == "A"
    assert scheme.uk_code("20") == "B"
    assert scheme.uk_code("30") == "unknown:30"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nto_uk: {1: Z}\n", "maps code '1' to 'Z', which is not a UK code"),
        ("name: Bad Name\n", "needs a 'name'"),
        ("- just a list\n", "must be a YAML mapping"),
        ("name: x\ncategories: [{code: 1}, {code: 1}]\n", "lists a category code twice"),
        ("name: x\nto_uk: {no: A}\n", "must be text or a whole number"),
        ("name: x\n  bad: [\n", "is not valid YAML"),
    ],
)
def test_bad_scheme_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(HashSetError, match=message):
        load_scheme_file(path)


def test_missing_scheme_file(tmp_path: Path) -> None:
    with pytest.raises(HashSetError, match="cannot read scheme file"):
        load_scheme_file(tmp_path / "absent.yaml")
