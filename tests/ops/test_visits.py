"""Visits: a real triage of a small folder with ``--visit`` links the exhibit, and the visit shows the on-scene
verdict and the lead-to-evidence corroboration (a lead's MD5 as a file on the exhibit, a lead's ED2K as an
eMule record of a file no longer there), read from the case. Benign generated pictures, synthetic sets."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from safenet.analysis.ed2k import ed2k
from safenet.cli import Exit, main
from safenet.demo import VICS_UK_CONTEXT
from safenet.ops.errors import AccessDenied, OpsError
from safenet.ops.leads import LeadIn, store_leads
from safenet.ops.render import visit_lines
from safenet.ops.store import OpsStore
from safenet.ops.visits import add_device, add_visit, approve_visit, link_exhibit, mark_executed, split_warrant, visit
from safenet.users import Role, UserStore
from tests.analysis.p2p.builders_binary import EmuleFile, known_met
from tests.builders import jpeg, md5, write
from tests.ops.opsfixtures import ANALYST, EXAMINER, SUPERVISOR, VIEWER

pytestmark = pytest.mark.timeout(300)
KNOWN_MET = "Users/alice/AppData/Local/eMule/config/known.met"
WHEN = datetime(2026, 12, 1, 21, 14, 3, tzinfo=UTC)


class _Named(EmuleFile):
    content: bytes = b""

    @property
    def ed2k(self) -> bytes:
        return ed2k(self.content)


def _lead(ref: str, kind: str, hex_digest: str) -> LeadIn:
    return LeadIn("p2p", ref, WHEN, "01/12/2026 21:14:03", "Europe/London", "203.0.113.7", 4662, hex_digest, kind, "t")


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> OpsStore:
    """The exhibit folder, its illicit set "known", an examiner user, and visit V-1 on two leads, approved."""
    holiday, gone, hit = jpeg(1), jpeg(2), jpeg(3)
    root = tmp_path / "exhibit"
    write(root, "Users/alice/Pictures/holiday.jpg", holiday)
    gone_record = _Named("gone.jpg", len(gone))
    gone_record.content = gone
    write(root, KNOWN_MET, known_met([gone_record]))
    write(root, "Windows/Temp/hit.jpg", hit)
    media = [{"MediaID": 1, "MD5": md5(hit).upper(), "Category": "1"}]
    (tmp_path / "set.json").write_text(json.dumps({"@odata.context": VICS_UK_CONTEXT, "value": media}))
    assert main(["hashset", "import", str(tmp_path / "set.json"), "--name", "known"]) == Exit.OK
    UserStore().add("exa", Role.EXAMINER, "a-long-enough-password")
    UserStore().add("vic", Role.VIEWER, "a-long-enough-password")
    monkeypatch.setenv("SAFENET_OPS_DB", str(tmp_path / "ops.sqlite"))
    monkeypatch.setenv("SAFENET_OPS_USER", "exa")
    ops = OpsStore.open(tmp_path / "ops.sqlite", create=True)
    store_leads(ops, ANALYST, [_lead("R1", "md5", md5(holiday)), _lead("R2", "ed2k", ed2k(gone).hex())])
    power, ref = split_warrant("S8 PACE 2026/431", None)
    assert (power, ref) == ("S8 PACE", "2026/431")
    add_visit(
        ops, ANALYST, lead_ids=["L-1", "L-2"], warrant_power=power, warrant_ref=ref, planned_date=date(2026, 12, 9)
    )
    approve_visit(ops, SUPERVISOR, "V-1")
    capsys.readouterr()
    return ops


def test_triage_with_visit_links_and_the_visit_shows_verdict_and_corroboration(
    scene: OpsStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = tmp_path / "case"
    code = main(
        [
            "triage",
            str(tmp_path / "exhibit"),
            "--case",
            str(case),
            "--exhibit",
            "EX1",
            "--hashset",
            "known",
            "--visit",
            "V-1",
        ]
    )
    out, err = capsys.readouterr()
    assert code == Exit.OK, err
    assert "exhibit EX1 linked to visit V-1 as device D-1" in out
    shown = visit(scene, EXAMINER, "V-1")
    (device,) = shown.devices
    assert (device.disposition, device.exhibit, device.case_path) == ("previewed", "EX1", str(case.resolve()))
    assert device.verdict is not None and device.verdict.hits
    assert device.verdict.counts == {"A": 1} and device.verdict.runs == 1
    assert device.verdict.time_to_first_hit is not None
    links = {(c.lead_id, c.kind): c for c in shown.corroborations}
    assert set(links) == {("L-1", "file"), ("L-2", "p2p-record")}
    assert "/Users/alice/Pictures/holiday.jpg" in links["L-1", "file"].locator_display
    assert KNOWN_MET in links["L-2", "p2p-record"].locator_display
    assert "record 0 (gone.jpg)" in links["L-2", "p2p-record"].locator_display
    assert links["L-1", "file"].sentence().startswith(f"the file observed on {WHEN.isoformat()} (L-1, md5 ")
    text = "\n".join(visit_lines(shown))
    assert "on-scene verdict: HITS (A: 1)" in text and "corroboration: a P2P client's record of the file" in text
    # linking the same exhibit again (a resumed triage) names the same device
    assert link_exhibit(scene, EXAMINER, "V-1", case, "EX1") == "D-1"


def test_triage_with_a_wrong_visit_or_role_stops_before_any_work(
    scene: OpsStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = tmp_path / "case"
    args = ["triage", str(tmp_path / "exhibit"), "--case", str(case), "--exhibit", "EX1", "--hashset", "known"]
    assert main([*args, "--visit", "V-9"]) == Exit.USAGE
    assert "there is no visit V-9" in capsys.readouterr().err
    monkeypatch.setenv("SAFENET_OPS_USER", "vic")
    assert main([*args, "--visit", "V-1"]) == Exit.USAGE
    assert "vic (viewer) may not change devices records" in capsys.readouterr().err
    assert not case.exists()


def test_devices_and_visit_rules(scene: OpsStore, tmp_path: Path) -> None:
    with pytest.raises(OpsError, match="needs the reason"):
        add_device(scene, EXAMINER, "V-1", "router", "left")
    assert add_device(scene, EXAMINER, "V-1", "games console", "left", reason="no storage of interest") == "D-1"
    assert add_device(scene, EXAMINER, "V-1", "laptop", "seized") == "D-2"
    with pytest.raises(OpsError, match="both --case and --exhibit"):
        add_device(scene, EXAMINER, "V-1", "phone", "seized", exhibit="EX2")
    with pytest.raises(AccessDenied):
        add_device(scene, VIEWER, "V-1", "phone", "seized")
    with pytest.raises(AccessDenied):
        approve_visit(scene, ANALYST, "V-1")  # only a supervisor approves
    with pytest.raises(OpsError, match="is approved, not planned"):
        approve_visit(scene, SUPERVISOR, "V-1")
    mark_executed(scene, ANALYST, "V-1", date(2026, 12, 9))
    shown = visit(scene, EXAMINER, "V-1")
    assert shown.status == "executed" and shown.actual_date == date(2026, 12, 9)
    assert [(d.id, d.disposition, d.verdict) for d in shown.devices] == [("D-1", "left", None), ("D-2", "seized", None)]


def test_several_devices_at_once_are_each_linked(
    scene: OpsStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "phone", "DCIM/a.jpg", jpeg(30))
    case = tmp_path / "case"
    devices = [f"EX1={tmp_path / 'exhibit'}", f"EX2={tmp_path / 'phone'}"]
    code = main(["triage", *devices, "--case", str(case), "--hashset", "known", "--visit", "V-1"])
    out, err = capsys.readouterr()
    assert code == Exit.OK, err
    assert "exhibit EX1 linked to visit V-1 as device D-1" in out
    assert "exhibit EX2 linked to visit V-1 as device D-2" in out
    shown = visit(scene, EXAMINER, "V-1")
    verdicts = {d.exhibit: d.verdict for d in shown.devices}
    assert verdicts["EX1"] is not None and verdicts["EX1"].hits
    assert verdicts["EX2"] is not None and not verdicts["EX2"].hits and verdicts["EX2"].runs == 1
    assert {(c.lead_id, c.exhibit) for c in shown.corroborations} == {("L-1", "EX1"), ("L-2", "EX1")}


def test_the_check_before_a_triage_with_visit_reads_no_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `safenet triage --visit V-1` only needs the visit to exist and the user to be allowed: opening every case
    # already linked to the visit (to show verdicts nobody sees) before the triage starts is wasted work
    from safenet.commands.ops import check_visit
    from safenet.ops import visits as V

    UserStore().add("exa", Role.EXAMINER, "a-long-enough-password")
    monkeypatch.setenv("SAFENET_OPS_DB", str(tmp_path / "ops.sqlite"))
    monkeypatch.setenv("SAFENET_OPS_USER", "exa")
    ops = OpsStore.open(tmp_path / "ops.sqlite", create=True)
    store_leads(ops, ANALYST, [_lead("R1", "md5", "0" * 32)])
    add_visit(ops, ANALYST, lead_ids=["L-1"], warrant_power="s.8 PACE", warrant_ref="1", planned_date=date(2026, 12, 9))
    approve_visit(ops, SUPERVISOR, "V-1")
    add_device(ops, EXAMINER, "V-1", "phone", "previewed", None, tmp_path / "case", "E1")
    ops.close()

    def no_case(*_args: object) -> None:
        raise AssertionError("a case was opened")

    monkeypatch.setattr(V, "_from_case", no_case)
    check_visit("V-1")
