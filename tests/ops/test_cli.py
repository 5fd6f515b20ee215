"""``safenet ops ...`` end to end: the documented exit codes (0, 2 with one sentence, 5), the acting user's role
from the users file, and a small operation from leads to public figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safenet.cli import Exit, main
from safenet.users import Role, UserStore
from tests.ops.leadfiles import P2P_HEADER, P2P_MAPPING, Tip, TipFile, write_cybertip

PASSWORD = "a-long-enough-password"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["ops", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = UserStore()
    for name, role in (("ana", Role.ANALYST), ("sup", Role.SUPERVISOR), ("vic", Role.VIEWER), ("adm", Role.ADMIN)):
        store.add(name, role, PASSWORD)
    monkeypatch.setenv("SAFENET_OPS_DB", str(tmp_path / "ops" / "ops.sqlite"))


def test_an_operation_from_leads_to_figures(users: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "leads", "list", "--as", "ana")
    assert code == Exit.CASE and "create it with `safenet ops init`" in err
    assert run(capsys, "init", "--as", "ana")[0] == Exit.OK
    tips = write_cybertip(
        tmp_path / "tips.xml",
        [
            Tip(
                "120456789",
                person_events=[("203.0.113.7", "443", "2026-12-01T21:14:03Z")],
                files=[TipFile("f1", "<b>x</b>", {"MD5": "ab" * 16})],
            )
        ],
    )
    code, out, err = run(capsys, "leads", "import", str(tips), "--source", "cybertip", "--as", "ana")
    assert code == Exit.OK, err
    assert "1 lead(s) added; duplicates merged into 0 lead(s)" in out
    code, out, _ = run(capsys, "leads", "subscriber", "L-1", "1 High Street, Anytown", "--as", "ana")
    assert code == Exit.OK and "L-1 is now in subject S-1" in out
    args = ["visit", "add", "--lead", "L-1", "--warrant", "S8 PACE 2026/431", "--date", "2026-12-09", "--as", "ana"]
    code, out, _ = run(capsys, *args)
    assert code == Exit.OK and "visit V-1 planned" in out
    assert run(capsys, "visit", "approve", "V-1", "--as", "ana")[0] == Exit.USAGE  # only a supervisor
    assert run(capsys, "visit", "approve", "V-1", "--as", "sup")[0] == Exit.OK
    assert run(capsys, "visit", "executed", "V-1", "--date", "2026-12-09", "--as", "ana")[0] == Exit.OK
    code, out, _ = run(capsys, "visit", "show", "V-1", "--as", "sup")
    assert code == Exit.OK and "warrant: S8 PACE 2026/431" in out and "address: 1 High Street, Anytown" in out
    code, out, _ = run(capsys, "person", "add", "V-1", "--name", "A Suspect", "--as", "ana")
    assert code == Exit.OK and "person P-1" in out
    code, _, err = run(
        capsys,
        "person",
        "outcome",
        "P-1",
        "--arrested",
        "2026-12-09",
        "--charged",
        "2026-12-11",
        "--offence",
        "s.1(1)(a) PCA 1978 making=3",
        "--court-date",
        "2026-12-30",
        "--as",
        "ana",
    )
    assert code == Exit.OK, err
    code, out, _ = run(capsys, "person", "show", "P-1", "--as", "sup")
    assert "warrant to charge: 2 days; court within four weeks of charge: met" in out
    assert "s.1(1)(a) PCA 1978 making x3" in out
    code, _, err = run(capsys, "person", "show", "P-1", "--as", "vic")
    assert (
        code == Exit.USAGE
        and err.strip() == "safenet: error: vic (viewer) may not view people records in the operation"
    )
    assert (
        run(capsys, "safeguarding", "set", "V-1", "--children", "2", "--referral-date", "2026-12-09", "--as", "sup")[0]
        == 0
    )
    code, out, _ = run(capsys, "figures", "--week", "2026-W50", "--as", "vic")
    assert code == Exit.OK
    figures = json.loads(out)
    assert figures["warrants_executed"] == figures["arrests"] == figures["charged"] == "fewer than 5"
    assert figures["children_safeguarded"] == "fewer than 5" and figures["period"] == "2026-W50"
    code, out, _ = run(capsys, "export", "--disclosure", "--subject", "S-1", "--as", "sup")
    exported = json.loads(out)
    assert exported["about"] == "S-1" and exported["people"][0]["name"] == "A Suspect"
    code, out, _ = run(capsys, "report", "--week", "2026-W50", "--as", "sup")
    assert code == Exit.OK and "visits executed: V-1" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["leads", "list", "--as", "nobody"], "nobody is not a Safenet user of this installation"),
        (["leads", "list", "--as", "vic"], "vic (viewer) may not view leads records in the operation"),
        (["visit", "show", "V-9", "--as", "sup"], "there is no visit V-9"),
        (
            ["visit", "add", "--lead", "L-1", "--warrant", "W 1", "--date", "9/12/2026", "--as", "ana"],
            "--date '9/12/2026' is not a date; write it as YYYY-MM-DD",
        ),
        (
            ["figures", "--week", "2026-50", "--as", "vic"],
            "'2026-50' is not an ISO week; write it as YYYY-Www, e.g. 2026-W50",
        ),
        (
            ["leads", "import", "obs.csv", "--source", "p2p", "--as", "ana"],
            "a CSV file of p2p leads needs --map MAPPING.yaml",
        ),
    ],
)
def test_mistakes_are_one_sentence_and_exit_2(
    users: None, args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "init", "--as", "ana")[0] == Exit.OK
    code, _, err = run(capsys, *args)
    assert code == Exit.USAGE
    assert err.startswith(f"safenet: error: {expected}") and err.count("\n") == 1


def test_a_csv_value_error_names_the_line(users: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--as", "ana")
    (tmp_path / "obs.csv").write_text(
        P2P_HEADER
        + "R1,01/12/2026 21:14:03,203.0.113.7,1,"
        + "a" * 32
        + ",f,g,1\nR2,01/12/2026 21:14:03,bad,1,"
        + "a" * 32
        + ",f,g,1\n"
    )
    (tmp_path / "p2p.yaml").write_text(P2P_MAPPING)
    args = ["leads", "import", str(tmp_path / "obs.csv"), "--source", "p2p", "--map", str(tmp_path / "p2p.yaml")]
    code, _, err = run(capsys, *args, "--as", "ana")
    assert code == Exit.USAGE
    assert err == "safenet: error: obs.csv line 3: 'bad' is not an IP address\n"


def test_ops_verify_checks_the_audit_chain(users: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--as", "ana")
    run(capsys, "advice", "--text", "Help is available.", "--as", "adm")
    code, out, _ = run(capsys, "verify", "--as", "sup")
    assert code == Exit.OK and "hash chain and signed head intact" in out
    assert run(capsys, "verify", "--as", "ana")[0] == Exit.USAGE
    log = tmp_path / "ops" / "ops-audit.jsonl"
    log.write_text(log.read_text().replace("Help is available.", "Help is elsewhere."))
    code, out, _ = run(capsys, "verify", "--as", "adm")
    assert code == Exit.VERIFY_FAILED
    assert out.startswith("PROBLEM: operation audit log: its last line is not the one last signed")


def test_hostile_lead_text_is_printed_as_data(users: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "init", "--as", "ana")
    hostile = "\x1b[2J[bold red]R1[/bold red]\u202egpj"
    (tmp_path / "obs.csv").write_text(
        P2P_HEADER + f'"{hostile}",01/12/2026 21:14:03,203.0.113.7,1,' + "a" * 32 + ",f,g,1\n", encoding="utf-8"
    )
    (tmp_path / "p2p.yaml").write_text(P2P_MAPPING)
    args = ["leads", "import", str(tmp_path / "obs.csv"), "--source", "p2p", "--map", str(tmp_path / "p2p.yaml")]
    assert run(capsys, *args, "--as", "ana")[0] == Exit.OK
    code, out, _ = run(capsys, "leads", "list", "--as", "ana")
    assert code == Exit.OK and "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J[bold red]R1[/bold red]\\u202egpj" in out  # escaped, and the markup printed as text
    assert run(capsys, "leads", "subscriber", "L-1", hostile, "--as", "ana")[0] == Exit.OK
    args = ["visit", "add", "--lead", "L-1", "--warrant", "S8 PACE 2026/431", "--date", "2026-12-09", "--as", "ana"]
    assert run(capsys, *args)[0] == Exit.OK
    code, out, _ = run(capsys, "visit", "show", "V-1", "--as", "ana")
    assert code == Exit.OK and "\x1b" not in out and "address: \\x1b[2J[bold red]R1[/bold red]\\u202egpj" in out


def test_hostile_lead_text_in_json_on_the_terminal_is_escaped_json(
    users: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # JSON's encoder escapes only C0 controls: a C1 CSI (\x9b) or a bidi override from a lead file would reach
    # the terminal as it is; printed, they are \u escapes, so the output is still the same JSON.
    run(capsys, "init", "--as", "ana")
    hostile = "R1\x9b2J\u202egpj\u200b\U000e0041"
    (tmp_path / "obs.csv").write_text(
        P2P_HEADER + f'"{hostile}",01/12/2026 21:14:03,203.0.113.7,1,' + "a" * 32 + ",f,g,1\n",
        encoding="utf-8",
    )
    (tmp_path / "p2p.yaml").write_text(P2P_MAPPING)
    args = ["leads", "import", str(tmp_path / "obs.csv"), "--source", "p2p", "--map", str(tmp_path / "p2p.yaml")]
    assert run(capsys, *args, "--as", "ana")[0] == Exit.OK
    code, out, _ = run(capsys, "export", "--disclosure", "--lead", "L-1", "--as", "sup")
    assert code == Exit.OK
    assert not any(ch in out for ch in "\x9b\u202e\u200b\U000e0041")
    assert "\\u009b" in out and "\\u202e" in out and "\\udb40\\udc41" in out
    assert json.loads(out)["leads"][0]["source_ref"] == hostile  # the same value, escaped the JSON way


def one_lead(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A new operation database holding one lead, L-1, imported from a CyberTipline report."""
    run(capsys, "init", "--as", "ana")
    tip = Tip(
        "1",
        person_events=[("203.0.113.7", "443", "2026-12-01T21:14:03Z")],
        files=[TipFile("f1", "gpj.\u202eexe.jpg", {"MD5": "ab" * 16})],  # a file name from the report: hostile
    )
    tips = write_cybertip(tmp_path / "tips.xml", [tip])
    assert run(capsys, "leads", "import", str(tips), "--source", "cybertip", "--as", "ana")[0] == Exit.OK


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--disclosure", "--lead", "L-1", "--as", "sup"],
        ["figures", "--week", "2026-W50", "--as", "vic"],
        ["figures", "--week", "2026-W50", "--format", "html", "--as", "vic"],
    ],
)
def test_an_output_file_that_cannot_be_written_is_one_sentence(
    users: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    one_lead(capsys, tmp_path)
    target = tmp_path / "no-such-folder" / "out.file"
    code, _, err = run(capsys, *args, "--output", str(target))
    assert code == Exit.USAGE
    assert err == f"safenet: error: cannot write {target}: No such file or directory\n"


def test_a_disclosure_is_audited_once_written_with_the_file_hash(
    users: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit line names where the export went and the SHA-256 of the file, so the file handed over can be
    shown to be the one audited; an export that could not be written is not audited as disclosed."""
    import hashlib

    one_lead(capsys, tmp_path)

    def exported() -> list[dict[str, object]]:
        lines = (tmp_path / "ops" / "ops-audit.jsonl").read_text().splitlines()
        return [entry["data"] for entry in map(json.loads, lines) if entry["event"] == "disclosure-exported"]

    unwritable = tmp_path / "no-such-folder" / "out.json"
    code, _, err = run(capsys, "export", "--disclosure", "--lead", "L-1", "--as", "sup", "--output", str(unwritable))
    assert code == Exit.USAGE and err.startswith(f"safenet: error: cannot write {unwritable}")
    assert exported() == []
    target = tmp_path / "disclosure.json"
    code, _, err = run(capsys, "export", "--disclosure", "--lead", "L-1", "--as", "sup", "--output", str(target))
    assert code == 0, err
    (line,) = exported()
    assert line["about"] == "L-1" and line["to"] == str(target.resolve())
    assert line["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert json.loads(target.read_text())["about"] == "L-1"
    assert "\u202e" not in target.read_text() and "gpj.\\u202eexe.jpg" in target.read_text()
    # to standard output: the bytes a file would hold, so `> file` gives the digest audited
    code, out, err = run(capsys, "export", "--disclosure", "--lead", "L-1", "--as", "sup")
    assert code == 0, err
    assert (
        exported()[-1]["to"] == "standard output"
        and exported()[-1]["sha256"] == hashlib.sha256(out.encode()).hexdigest()
    )
