"""Three exhibits and what a run of several reports, shared by the tests of several exhibits at once
(``tests/engine/test_multi.py``, and ``tests/case/test_multi_backends.py`` on either database)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from safenet.case.schema import Exhibit, Finding, ItemRow
from safenet.case.store import Case
from safenet.engine.events import Hit, KnownRecord, NoEvents, TriageEvents
from safenet.engine.multi import ExhibitOutcome
from safenet.engine.triage import TriageOptions
from safenet.evidence.registry import Source
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg, write
from tests.evidence.image_builders import HAVE_EXT4, ext4_image

# UK codes as shipped (vics-uk scheme): 1=A, 2=B, 3=C
A, B, C = 1, 2, 3


class Events:
    """Collects what a run of several exhibits reports (relayed from the exhibits' processes)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.done: list[ExhibitOutcome] = []

    def exhibit(self, label: str) -> TriageEvents:
        events = self

        class One(NoEvents):
            def hit(self, hit: Hit) -> None:
                events.hits.append(hit)

            def known_record(self, record: KnownRecord) -> None:
                pass

        return One()

    def finished(self, outcome: ExhibitOutcome) -> None:
        self.done.append(outcome)


class Exhibits:
    """Three exhibits (two folders and an ext4 image when mkfs.ext4 is here, else a third folder) and a set."""

    def __init__(self, tmp_path: Path) -> None:
        self.known = VicsSet()
        self.sources: list[tuple[str, Source]] = []
        for n, seeds in enumerate((range(0, 12), range(100, 110))):
            root = tmp_path / f"folder{n}"
            for i in seeds:
                data = jpeg(i)
                write(root, f"DCIM/IMG_{i:04d}.jpg", data)
                if i % 4 == 0:
                    self.known.add(data, [A, B, C][i % 3])
            self.sources.append((f"EX{n + 1}", root))
        files = {f"DCIM/IMG_{i:04d}.JPG": jpeg(200 + i) for i in range(8)}
        self.known.add(files["DCIM/IMG_0003.JPG"], C)
        if HAVE_EXT4:
            third: Path = ext4_image(tmp_path, files, delete=["DCIM/IMG_0005.JPG"])
        else:
            third = tmp_path / "folder3"
            for rel, data in files.items():
                write(third, rel, data)
        self.sources.append(("EX3", third))
        self.store = HashSetStore(tmp_path / "hashdb")
        path = self.known.write(tmp_path / "set.json")
        self.store.import_file(path, "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)


def options(**kw: Any) -> TriageOptions:
    return replace(TriageOptions(exhibit="-", hashsets=("caid-test",), operator="tester", workers=2), **kw)


def per_exhibit(case: Case) -> dict[str, tuple[list[tuple[str, str, str | None, str | None]], list[tuple[str, str]]]]:
    """Per exhibit label: its items (locator, status, md5, sha256) and findings (locator, category), sorted."""
    out = {}
    with case.sessions() as s:
        for exhibit in s.scalars(select(Exhibit)).all():
            rows = s.scalars(select(ItemRow).where(ItemRow.exhibit_id == exhibit.id)).all()
            items = sorted((r.locator, r.status, r.md5, r.sha256) for r in rows)
            found = s.execute(
                select(ItemRow.locator, Finding.category)
                .join(Finding, Finding.item_id == ItemRow.id)
                .where(ItemRow.exhibit_id == exhibit.id)
            ).all()
            out[exhibit.label] = (items, sorted((str(a), str(b)) for a, b in found))
    return out
