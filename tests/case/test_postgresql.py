"""A case in PostgreSQL (``--db``): created by triage into an empty database, found again from the folder's
``database.url`` (never a password in it), and every user mistake one sentence with exit code 5."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import String, literal, select

from safenet.case.queries import _REGION_END, is_region_row
from safenet.case.store import URL_NAME, Case, CaseError
from safenet.cli import main
from tests.builders import jpeg, write
from tests.pgcase import Databases


@pytest.fixture
def server(case_db: Databases | None) -> Databases:
    if case_db is None:
        pytest.skip("PostgreSQL only")
    return case_db


def test_triage_into_postgresql_and_mistakes(
    server: Databases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "ev", "p.jpg", jpeg(7))
    url = server.new().replace("postgresql+psycopg://", "postgresql://")
    with_password = url.replace("postgresql://safenet@", "postgresql://safenet:secret@")
    base = ["triage", str(tmp_path / "ev"), "--exhibit", "EX1"]
    assert main([*base, "--case", str(tmp_path / "pg"), "--db", with_password]) == 0
    assert (tmp_path / "pg" / URL_NAME).read_text().strip() == url  # the password is not kept
    case = Case.open_existing(tmp_path / "pg")
    assert case.dialect == "postgresql" and len(case.exhibits()) == 1
    case.close()
    capsys.readouterr()
    assert main([*base, "--case", str(tmp_path / "other"), "--db", url]) == 5
    assert "is not empty" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "pg")]) == 0  # found from the folder, no --db needed
    other = server.new()
    with pytest.raises(CaseError, match="keeps its rows in"):
        Case.open_existing(tmp_path / "pg", other)  # --db may add a password, never point elsewhere
    assert Case.open_existing(tmp_path / "pg", with_password).dialect == "postgresql"


def test_a_region_row_is_told_from_its_locator_on_both_databases(tmp_path: Path) -> None:
    region = '[{"kind":"image","detail":"x.E01"},{"kind":"path"' + _REGION_END
    named = '[{"kind":"image","detail":"x.E01"},{"kind":"path","detail":"a.jpg"}]'
    case = Case.create_or_open(tmp_path / "case")  # SQLite, or PostgreSQL (conftest)
    with case.sessions() as s:
        answers = [s.scalar(select(is_region_row(literal(value, String)))) for value in (region, named, "]")]
    case.close()
    assert [bool(a) for a in answers] == [True, False, False]
