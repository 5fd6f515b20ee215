"""``safenet case copy``: a case moves between SQLite and PostgreSQL with its rows, ids, audit log and files, and
the copy verifies; a user mistake is one sentence and exit code 5 (the case was not copied)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from safenet.case.copy import copy_case
from safenet.case.gradings import Grade, current_gradings, grade_items
from safenet.case.schema import ItemRow
from safenet.case.store import DB_NAME, URL_NAME, Case
from safenet.case.verify import verify_case
from safenet.cli import main
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, User
from tests.builders import jpeg, write
from tests.pgcase import Databases

ON_SQLITE = Case.__dict__["create_or_open"]  # as imported, before a PostgreSQL run redirects new cases


def _source(tmp_path: Path) -> Case:
    evidence = tmp_path / "ev"
    for seed in range(3):
        write(evidence, f"p{seed}.jpg", jpeg(200 + seed))
    case = Case.create_or_open(tmp_path / "source")
    options = TriageOptions(exhibit="EX1", operator="t", executor=ExecutorKind.INLINE)
    triage(evidence, case, HashSetStore(tmp_path / "db"), options)
    with case.sessions() as s:
        first = min(s.scalars(s.query(ItemRow.id).statement))
    grade_items(case, [first], Grade.C, User("alice", Role.EXAMINER, datetime(2026, 1, 1, tzinfo=UTC)))
    (case.path / "reports" / "note.html").write_text("a report\n")
    return case


def _state(case: Case) -> tuple[list[tuple[int, str, str | None]], dict[int, str]]:
    with case.sessions() as s:
        items = [(r.id, r.locator, r.sha256) for r in s.query(ItemRow).order_by(ItemRow.id)]
    return items, {item: g.grade for item, g in current_gradings(case).items()}


def test_a_case_moves_to_sqlite_and_to_postgresql_and_verifies(
    tmp_path: Path, case_db: Databases | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path)
    expected = _state(source)
    source.close()
    monkeypatch.setattr(Case, "create_or_open", ON_SQLITE)  # the copy's rows go where --db says, nowhere else
    result = copy_case(tmp_path / "source", tmp_path / "on-sqlite")
    assert result.target == DB_NAME and result.rows["items"] == 3 and result.rows["gradings"] == 1
    assert (tmp_path / "on-sqlite" / "reports" / "note.html").read_text() == "a report\n"
    copied = Case.open_existing(tmp_path / "on-sqlite")
    assert copied.dialect == "sqlite" and _state(copied) == expected
    assert verify_case(copied).ok
    copied.close()
    if case_db is None:
        return
    url = case_db.new().replace("postgresql+psycopg://", "postgresql://")
    result = copy_case(tmp_path / "on-sqlite", tmp_path / "on-postgresql", url)
    assert result.source == DB_NAME and result.target == url
    assert (tmp_path / "on-postgresql" / URL_NAME).read_text().strip() == url
    assert not (tmp_path / "on-postgresql" / DB_NAME).exists()
    moved = Case.open_existing(tmp_path / "on-postgresql")
    assert moved.dialect == "postgresql" and _state(moved) == expected
    assert verify_case(moved).ok
    # new rows after the copy get fresh ids: the id sequences were moved past the copied ones
    first = expected[0][0][0]
    erin = User("erin", Role.EXAMINER, datetime(2026, 1, 2, tzinfo=UTC))
    assert len(grade_items(moved, [first], Grade.B, erin, overwrite=True)) == 1
    assert current_gradings(moved)[first].grade == "B"
    assert verify_case(moved).ok
    moved.close()


def test_copy_mistakes_are_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _source(tmp_path).close()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert main(["case", "copy", str(tmp_path / "source"), str(tmp_path / "taken")]) == 5
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["case", "copy", str(tmp_path / "source"), str(tmp_path / "t2"), "--db", "sqlite:///x.db"]) == 5
    assert "--db must be a PostgreSQL URL" in capsys.readouterr().err
    assert not (tmp_path / "t2").exists()
    # a port that is not a number (SQLAlchemy's ValueError): one sentence, and the password never shown
    assert (
        main(["case", "copy", str(tmp_path / "source"), str(tmp_path / "t2"), "--db", "postgresql://a:s3cret@h:x/d"])
        == 5
    )
    err = capsys.readouterr().err
    assert "--db is not a database URL" in err and "s3cret" not in err and "Traceback" not in err


def test_a_row_lost_on_the_way_is_caught_and_the_copy_removed(
    tmp_path: Path, case_db: Databases | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections.abc import Iterable, Iterator

    from sqlalchemy import Connection, Table

    from safenet.case import copy
    from safenet.case.store import CaseError

    _source(tmp_path).close()
    monkeypatch.setattr(Case, "create_or_open", ON_SQLITE)
    written = copy._written

    def losing(
        writing: Connection, table: Table, chunks: Iterable[list[dict[str, object]]]
    ) -> Iterator[list[dict[str, object]]]:
        for chunk in chunks:  # the items' last row is read but not written
            list(written(writing, table, [chunk[:-1] if table.name == "items" else chunk]))
            yield chunk

    monkeypatch.setattr(copy, "_written", losing)
    with pytest.raises(CaseError, match="the copy's items rows differ from the source's"):
        copy_case(tmp_path / "source", tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
