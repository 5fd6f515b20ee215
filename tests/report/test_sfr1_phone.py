"""The SFR1's phone limitations, from what the case recorded: a logical acquisition recovers no deleted data,
vault apps are not decoded, and UFDR hashes that disagreed with Safenet's are counted from their warnings."""

from __future__ import annotations

from typing import Any

from safenet.analysis.appmedia import VAULT_APPS
from safenet.evidence.phone.identity import Acquisition
from safenet.report.sfr1 import UFDR_MISMATCH, _limitations


def _exhibit(label: str, acquisition: str | None) -> dict[str, Any]:
    return {"label": label, "phone": [] if acquisition else None, "acquisition": acquisition}


def test_phone_limitations() -> None:
    exhibits = [
        _exhibit("EX1", None),  # a computer
        _exhibit("EX2", Acquisition.ADB_LOGICAL.value),
        _exhibit("EX3", Acquisition.UFDR.value),
    ]
    report = {
        "exhibits": [
            {"label": "EX1", "warnings_by_code": {}},
            {"label": "EX2", "warnings_by_code": {"device-disconnected": 1}},
            {"label": "EX3", "warnings_by_code": {UFDR_MISMATCH: 3}},
        ]
    }
    lines = _limitations(exhibits, report)
    assert [line.split(":")[0] for line in lines] == [
        "Exhibit EX2",
        "Exhibit EX3",
        "Photo-vault apps' storage is not decoded",
    ]
    assert "deleted data is not recovered" in lines[0] and "ADB" in lines[0]
    assert (
        lines[1].startswith("Exhibit EX3: 3 file hash(es) recorded in the UFDR extraction disagreed")
        and UFDR_MISMATCH in lines[1]
    )
    assert all(app.name in lines[2] for app in VAULT_APPS)


def test_no_phone_no_phone_limitation() -> None:
    report = {"exhibits": [{"label": "EX1", "warnings_by_code": {}}]}
    assert _limitations([_exhibit("EX1", None)], report) == []
