"""The README and docs/warnings.md are what an examiner reads when a run records a warning: every code Safenet
can record must be explained in both (the README's short table, and docs/warnings.md with what to do).
Codes are collected from the source (literal codes given to ``EvidenceWarning``, the ``*_CODE`` constants
and the ``WARNING_CODES`` of every producer in ``evidence.producers.PRODUCERS``)."""

from __future__ import annotations

import re
from pathlib import Path

from safenet.evidence.producers import PRODUCERS

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "safenet"

_LITERAL = re.compile(r'EvidenceWarning\(\s*"([a-z0-9-]+)"')
_CONSTANT = re.compile(r'^\w*CODE\w*\s*(?::\s*\w+(?:\[\w+\])?)?\s*=\s*"([a-z0-9-]+)"', re.MULTILINE)
_FAIL = re.compile(r'self\._fail\([^"]*"([a-z0-9-]+)"')
_CHOSEN = re.compile(r'^\s*code\s*=\s*"([a-z0-9-]+)" if .* else "([a-z0-9-]+)"', re.MULTILINE)


def source_codes() -> set[str]:
    codes: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in (_LITERAL, _CONSTANT, _FAIL):
            codes.update(pattern.findall(text))
        codes.update(code for pair in _CHOSEN.findall(text) for code in pair)
    for producer in PRODUCERS:
        codes.update(producer.WARNING_CODES)
    return codes


def table_codes(text: str) -> set[str]:
    """Codes named in the first cell of Markdown table rows that start with a code."""
    return {
        code
        for line in text.splitlines()
        if line.startswith("| `")
        for code in re.findall(r"`([a-z0-9-]+)`", line.split("|")[1])
    }


def readme_codes() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return table_codes(text.split("### Warning codes", 1)[1].split("\n## ", 1)[0])


def docs_codes() -> set[str]:
    return table_codes((ROOT / "docs" / "warnings.md").read_text(encoding="utf-8"))


def test_every_warning_code_is_explained_in_the_readme() -> None:
    found = source_codes()
    assert len(found) > 30  # the collection itself works (a broken pattern would make this test vacuous)
    assert found - readme_codes() == set()


def test_the_readme_explains_no_code_that_safenet_never_records() -> None:
    assert readme_codes() - source_codes() == set()


def test_every_warning_code_is_explained_in_docs_warnings() -> None:
    assert source_codes() - docs_codes() == set()


def test_docs_warnings_explains_no_code_that_safenet_never_records() -> None:
    assert docs_codes() - source_codes() == set()


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def test_links_between_the_documents_resolve() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for document in documents:
        for target in _LINK.findall(document.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (document.parent / file_part).resolve() if file_part else document
            if not linked.exists():
                broken.append(f"{document.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{document.name}: {target} (no such heading)")
    assert len(documents) > 5
    assert broken == []


_CITED = re.compile(r"\bdocs/[\w-]+\.md\b")
_OUTSIDE = re.compile(r"\b(?:STYLE|FORMATS|PERCEPTUAL|DESIGN|DOMAIN|OPERATION)\.md\b|\.\./shared\b")


def test_code_cites_only_documents_the_repository_carries() -> None:
    """Comments point at docs/; a clone without the shared folder beside it must have every one they cite."""
    missing, outside = [], []
    for folder in ("src", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".yaml", ".md", ".html", ".js"} or path == Path(__file__).resolve():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            where = path.relative_to(ROOT)
            missing += [f"{where}: {cited}" for cited in _CITED.findall(text) if not (ROOT / cited).is_file()]
            outside += [f"{where}: {found}" for found in _OUTSIDE.findall(text)]
    assert missing == []
    assert outside == []
