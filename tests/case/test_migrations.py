"""Alembic on the case database: a case written by the previous release (schema version 6) opens in this
Safenet, is migrated to version 7 and still verifies; the upgrade is recorded, and the reports say what the
runs before it never did. A new case is stamped at the newest revision; older versions are still refused.

The version-6 case is built here: a real triage of a small folder (benign pictures, a synthetic set), its audit
batches digested as the version-6 recorder digested them (items without ``ed2k``), and its database rebuilt from
a frozen copy of the version-6 DDL (``case_v6.sql``) with every row copied over.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from safenet.case import integrity
from safenet.case.migrations import HEAD, UPGRADE_EVENT, upgrades
from safenet.case.schema import Base
from safenet.case.store import Case, CaseError
from safenet.case.verify import verify_case
from safenet.cli import Exit, main
from safenet.report.summary import summarise
from tests.builders import VicsSet, jpeg, write

pytestmark = pytest.mark.timeout(300)
V6_DDL = Path(__file__).with_name("case_v6.sql")


def _tables(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: [c[1] for c in conn.execute(f"PRAGMA table_info({name})")] for name in names}


def _rebuild_as_v6(case: Path) -> None:
    """Replace case.db by a database made from the version-6 DDL holding the same rows (version-6 columns)."""
    old = case / "case.db"
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    new = case / "v6.db"
    v6 = sqlite3.connect(new)
    v6.executescript(V6_DDL.read_text())
    layout = _tables(new)
    v6.execute("ATTACH DATABASE ? AS cur", (str(old),))
    for table, columns in layout.items():
        names = ", ".join(columns)
        v6.execute(f"INSERT INTO main.{table} ({names}) SELECT {names} FROM cur.{table}")
    v6.execute("UPDATE main.meta SET value = '6' WHERE key = 'schema_version'")
    v6.commit()
    v6.execute("DETACH DATABASE cur")
    v6.close()
    for leftover in ("case.db-wal", "case.db-shm"):
        (case / leftover).unlink(missing_ok=True)
    new.replace(old)


@pytest.fixture
def v6_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    known = VicsSet()
    for i in range(4):
        write(tmp_path / "ev", f"DCIM/{i}.jpg", data := jpeg(i))
        if i == 2:
            known.add(data, 1)
    assert main(["hashset", "import", str(known.write(tmp_path / "vics.json")), "--name", "s"]) == Exit.OK
    kinds = integrity._kinds

    def v6_kinds(table: str, without: frozenset[str] = frozenset()) -> tuple[list[str], list[int], list[int]]:
        return kinds(table, without | {"ed2k"} if table == "items" else without)

    with monkeypatch.context() as patch:  # the version-6 recorder digested items without ed2k
        patch.setattr(integrity, "_kinds", v6_kinds)
        code = main(
            ["triage", str(tmp_path / "ev"), "--case", str(tmp_path / "case"), "--exhibit", "EX1", "--hashset", "s"]
        )
    assert code == Exit.OK, capsys.readouterr().err
    _rebuild_as_v6(tmp_path / "case")
    layout = _tables(tmp_path / "case" / "case.db")
    assert "ed2k" not in layout["items"] and "p2p_records" not in layout and "alembic_version" not in layout
    capsys.readouterr()
    return tmp_path / "case"


def test_a_v6_case_opens_migrated_and_verifies(v6_case: Path) -> None:
    case = Case.open_existing(v6_case)
    layout = _tables(v6_case / "case.db")
    assert {"p2p_records", "p2p_findings", "search_terms", "alembic_version"} <= set(layout)
    assert "ed2k" in layout["items"]
    with sqlite3.connect(v6_case / "case.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("7",)
    (record,) = upgrades(case)
    assert (record["from"], record["to"], record["last_run"]) == (6, 7, 1)
    line = case.audit.entries()[-1]
    assert line["event"] == UPGRADE_EVENT and line["data"]["columns_added"] == {"items": ["ed2k"]}
    result = verify_case(case)
    assert result.ok, result.problems
    (exhibit,) = summarise(case).exhibits
    notes = [n for n in exhibit.not_examined if n.startswith("run 1 ")]
    assert len(notes) == 1
    assert "recorded in case schema version 6, before this case was upgraded" in notes[0]
    assert "did not parse P2P client artefacts or compute ED2K digests" in notes[0]
    case.close()
    # opening it again changes nothing more
    again = Case.open_existing(v6_case)
    assert len(upgrades(again)) == 1 and verify_case(again).ok
    again.close()


def test_columns_added_are_found_per_table(v6_case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A column a table already had before the upgrade is not reported as added (each table's own columns)."""
    from safenet.case import migrations

    monkeypatch.setattr(migrations, "ADDED_COLUMNS", {7: {"items": ["ed2k"], "runs": ["tool_version"]}})
    case = Case.open_existing(v6_case)
    assert case.audit.entries()[-1]["data"]["columns_added"] == {"items": ["ed2k"]}
    case.close()


def test_the_migrated_database_is_what_a_new_case_is(v6_case: Path) -> None:
    Case.open_existing(v6_case).close()
    case = Case.open_existing(v6_case)
    with case.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    case.close()


def test_an_ed2k_set_after_the_upgrade_on_an_old_item_is_a_verify_problem(v6_case: Path) -> None:
    Case.open_existing(v6_case).close()
    with sqlite3.connect(v6_case / "case.db") as conn:
        conn.execute("UPDATE items SET ed2k = ? WHERE id = 1", ("0" * 32,))
    result = verify_case(Case.open_existing(v6_case))
    assert not result.ok
    (problem,) = [p for p in result.problems if p.startswith("items 1-")]
    # what changed, said as it is: not "rows deleted or added" (the count read was once the changed rows')
    assert problem.endswith(
        "differ from what the audit log recorded: 1 of its rows have a value in a column an upgrade added after "
        "they were recorded"
    )


def test_a_new_run_in_an_upgraded_case_carries_no_pre_upgrade_note(
    v6_case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "ev2", "a.jpg", jpeg(40))
    assert main(["triage", str(tmp_path / "ev2"), "--case", str(v6_case), "--exhibit", "EX2"]) == Exit.OK
    capsys.readouterr()
    case = Case.open_existing(v6_case)
    notes = {
        ex.label: [n for n in ex.not_examined if "before this case was upgraded" in n]
        for ex in summarise(case).exhibits
    }
    assert len(notes["EX1"]) == 1 and notes["EX2"] == []
    assert verify_case(case).ok


def test_a_new_case_is_stamped_and_older_versions_are_still_refused(tmp_path: Path, v6_case: Path) -> None:
    Case.create_or_open(tmp_path / "fresh").close()
    with sqlite3.connect(tmp_path / "fresh" / "case.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    with sqlite3.connect(v6_case / "case.db") as conn:
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    with pytest.raises(CaseError, match="has schema version 5, written by an older Safenet"):
        Case.open_existing(v6_case)
