"""Form values and display ids read the way the CLI reads options: a wrong one is one sentence (OpsError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.ops.errors import OpsError
from safenet.ops.ids import VISIT, row_of
from safenet.ops.schema import VisitRow
from safenet.ops.store import OpsStore
from safenet.ops.web.routes.forms import count


def test_count_accepts_digits_at_or_above_the_least() -> None:
    assert count(" 3 ", "The number of counts", 1) == 3
    assert count("0", "The number of children", 0) == 0


@pytest.mark.parametrize(("text", "least"), [("many", 0), ("-1", 0), ("", 0), ("0", 1), ("1.5", 1), ("\u00b2", 0)])
def test_count_refuses_other_values_in_one_sentence(text: str, least: int) -> None:
    with pytest.raises(OpsError, match=rf"^The number of things must be a whole number \({least} or more\)\.$"):
        count(text, "The number of things", least)


def test_row_of_names_a_missing_row_in_the_callers_sentence(tmp_path: Path) -> None:
    store = OpsStore.open(tmp_path / "ops" / "ops.sqlite", create=True)
    try:
        with store.session() as s, pytest.raises(OpsError, match=r"^there is no visit V-9; list them$"):
            row_of(s, VisitRow, VISIT, "V-9", "there is no visit V-9; list them")
    finally:
        store.close()


@pytest.mark.parametrize("text", ["making=\u00b2", "making=0", "making=x", "=2"])
def test_an_offence_with_a_wrong_count_is_one_sentence(text: str) -> None:
    # "²" passes str.isdigit() but not int()
    from safenet.ops.people import parse_offence

    with pytest.raises(OpsError, match=r"is not OFFENCE=COUNTS"):
        parse_offence(text)
