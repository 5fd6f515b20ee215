"""The command line: the README's commands, documented exit codes, one-sentence errors, no tracebacks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safenet import version_line
from safenet.cli import Exit, main
from safenet.collector import YOUNG_OBJECTS
from tests.builders import VicsSet, jpeg, write


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def evidence(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "ev"
    known = VicsSet()
    for i in range(4):
        data = jpeg(i)
        write(root, f"DCIM/{i}.jpg", data)
        if i % 2 == 0:
            known.add(data, 1 + i // 2)
    return root, known.write(tmp_path / "vics.json")


def test_import_triage_report_verify(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, vics = evidence
    case = tmp_path / "case"
    code, out, _ = run(capsys, "hashset", "import", str(vics), "--name", "caid-2026-10")
    assert code == 0 and "imported caid-2026-10: 2 entries" in out
    code, out, _ = run(capsys, "hashset", "list")
    assert code == 0 and "caid-2026-10" in out
    code, out, _ = run(
        capsys,
        "triage",
        str(root),
        "--case",
        str(case),
        "--exhibit",
        "EX1",
        "--hashset",
        "caid-2026-10",
        "--operator",
        "DC Test",
    )
    assert code == 0
    hit_lines = [line for line in out.splitlines() if line.startswith("HIT")]
    assert len(hit_lines) == 2 and all("EX1" in line and "md5" in line for line in hit_lines)
    assert "TOTAL" in out and "completed" in out
    for fmt in ("html", "json", "csv"):
        code, out, _ = run(capsys, "report", str(case), "--format", fmt)
        assert code == 0 and "report written" in out
    report = json.loads(next((case / "reports").glob("*.json")).read_text())
    assert report["totals"]["hits"] == 2
    assert {c["category"]: c["total"] for c in report["totals"]["categories"]}["A"] == 1
    assert report["exhibits"][0]["runs"][0]["operator"] == "DC Test"
    code, out, _ = run(capsys, "verify", str(case))
    assert code == 0 and "verified" in out


def test_verify_detects_tampering(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, vics = evidence
    case = tmp_path / "case"
    run(capsys, "hashset", "import", str(vics), "--name", "s")
    run(capsys, "triage", str(root), "--case", str(case), "--exhibit", "EX1", "--hashset", "s")
    with sqlite3.connect(case / "case.db") as db:
        db.execute("UPDATE findings SET category = 'C' WHERE category = 'A'")
    code, out, err = run(capsys, "verify", str(case))
    assert code == Exit.VERIFY_FAILED and "differ from those the audit log recorded" in out
    assert "Traceback" not in err


def test_verify_detects_changed_evidence(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, vics = evidence
    case = tmp_path / "case"
    run(capsys, "hashset", "import", str(vics), "--name", "s")
    run(capsys, "triage", str(root), "--case", str(case), "--exhibit", "EX1", "--hashset", "s")
    (root / "DCIM" / "0.jpg").write_bytes(b"changed")
    code, out, _ = run(capsys, "verify", str(case))
    assert code == Exit.VERIFY_FAILED and "digests differ" in out


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("triage", "{tmp}/missing", "--case", "{tmp}/c", "--exhibit", "E"), Exit.EVIDENCE, "does not exist"),
        (("hashset", "import", "{tmp}/missing.json", "--name", "x"), Exit.HASHSET, "does not exist"),
        (("hashset", "import", "{jpeg}", "--name", "x"), Exit.HASHSET, ""),
        (
            ("triage", "{ev}", "--case", "{tmp}/c", "--exhibit", "E", "--hashset", "nope"),
            Exit.HASHSET,
            "nope",
        ),
        (("report", "{tmp}", "--format", "html"), Exit.CASE, "not a Safenet case"),
        (("report", "{tmp}/c2", "--format", "pdfx"), Exit.USAGE, "unknown report format"),
        (("triage", "{ev}", "--case", "{tmp}/c", "--exhibit", "E", "--digests", "md6"), Exit.USAGE, "md6"),
        (
            ("triage", "{ev}", "--case", "{tmp}/c", "--exhibit", "E", "--resume"),
            Exit.CASE,
            "no unfinished run",
        ),
        (("verify", "{tmp}/nowhere"), Exit.CASE, "not a Safenet case"),
    ],
)
def test_user_mistakes_get_one_sentence_and_an_exit_code(
    tmp_path: Path,
    evidence: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    code: int,
    fragment: str,
) -> None:
    root, _ = evidence
    picture = write(tmp_path, "pic.jpg", jpeg(9))
    filled = [a.format(tmp=tmp_path, ev=root, jpeg=picture) for a in args]
    got, out, err = run(capsys, *filled)
    assert got == code, (out, err)
    assert "Traceback" not in err + out
    if code != Exit.USAGE or fragment:
        assert fragment in err
        error_lines = [line for line in err.splitlines() if line.startswith("safenet: error:")]
        assert len(error_lines) == 1


def test_digests_a_selected_set_cannot_use_are_a_usage_error(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, vics = evidence  # the VICS set holds MD5 only
    run(capsys, "hashset", "import", str(vics), "--name", "s")
    args = ("triage", str(root), "--case", str(tmp_path / "c"), "--exhibit", "E", "--hashset", "s")
    code, out, err = run(capsys, *args, "--digests", "sha256")
    assert code == Exit.USAGE and "Traceback" not in out + err
    assert [line for line in err.splitlines() if line.startswith("safenet: error:")] == [
        "safenet: error: hash set s holds md5 digests, which --digests leaves out; add md5"
    ]


def test_help_lists_the_readme_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("triage", "hashset", "report", "verify", "demo"):
        assert command in out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for command in ("safenet hashset import", "safenet triage", "safenet report", "safenet verify"):
        assert command in readme


@pytest.mark.slow
def test_sigkill_halfway_then_resume_finishes_without_duplicates(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    known = VicsSet()
    for i in range(6000):
        data = b"\xff\xd8\xff\xe0" + i.to_bytes(4, "big") + bytes(40_000)
        write(root, f"d{i % 50}/{i}.jpg", data)
        if i % 1000 == 7:
            known.add(data, 1)
    vics = known.write(tmp_path / "vics.json")
    env = {**os.environ, "SAFENET_HASHDB": str(tmp_path / "db")}
    safenet = [sys.executable, "-m", "safenet"]
    subprocess.run([*safenet, "hashset", "import", str(vics), "--name", "s"], check=True, env=env, capture_output=True)
    case = tmp_path / "case"
    cmd = [*safenet, "triage", str(root), "--case", str(case), "--exhibit", "EX1", "--hashset", "s"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    recorded = 0
    deadline = time.monotonic() + 120
    while recorded == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
        try:
            with sqlite3.connect(f"file:{case / 'case.db'}?mode=ro", uri=True, timeout=1) as db:
                recorded = db.execute("SELECT count(*) FROM items").fetchone()[0]
        except sqlite3.Error:
            continue
    assert proc.poll() is None, "the triage finished before it could be killed; make the tree bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < recorded < 6000
    report = subprocess.run(
        [*safenet, "report", str(case), "--format", "json", "--output", str(tmp_path / "r.json")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 0, report.stderr  # the killed case is readable
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == Exit.CASE and "--resume" in again.stderr
    done = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(case / "case.db") as db:
        assert db.execute("SELECT count(*), count(DISTINCT locator) FROM items").fetchone() == (6000, 6000)
        assert db.execute("SELECT count(*) FROM findings").fetchone()[0] == 6
        statuses = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY id")]
    assert statuses == ["interrupted", "completed"]
    verify = subprocess.run([*safenet, "verify", str(case)], env=env, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_terminal_escape_sequences_in_evidence_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = tmp_path / "evil\x1b[2J\x1b]0;pwned\x07.json"
    hostile.write_text("not a hash set")
    code, out, err = run(capsys, "hashset", "import", str(hostile), "--name", "x")
    assert code == Exit.HASHSET
    assert "\x1b" not in err + out and "\\x1b" in err


def _import(capsys: pytest.CaptureFixture[str], vics: Path) -> None:
    assert run(capsys, "hashset", "import", str(vics), "--name", "caid")[0] == 0


def test_resume_takes_the_hash_sets_from_the_run_record(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19.2: `--resume` as the README shows it exited 5 unless --hashset was given again."""
    root, vics = evidence
    _import(capsys, vics)
    case = str(tmp_path / "case")
    code, out, _ = run(capsys, "triage", str(root), "--case", case, "--exhibit", "EX1", "--hashset", "caid",
                       "--stop-at-first-hit")  # fmt: skip
    assert code == 0 and "stopped at the first hit" in out
    code, out, err = run(capsys, "triage", str(root), "--case", case, "--exhibit", "EX1", "--resume")
    assert code == 0, err
    assert "completed" in out
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        assert db.execute("SELECT count(*) FROM findings").fetchone()[0] == 2
    assert run(capsys, "verify", case)[0] == 0


def test_a_full_disk_is_one_sentence_and_resume_finishes(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19.10: a full disk was "internal error ... this is a bug" (exit 1) or exit 5."""
    import errno

    from safenet.case import audit, recorder

    root, vics = evidence
    _import(capsys, vics)
    case = str(tmp_path / "case")
    args = ["triage", str(root), "--case", case, "--exhibit", "EX1", "--hashset", "caid"]
    real_write = audit.os.write

    def full_log(fd: int, data: bytes) -> int:
        if b"rows-recorded" in bytes(data):  # the log writes a memoryview of what is left to write
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def full_db(*_: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(audit.os, "write", full_log)
        code, out, err = run(capsys, *args)
    assert code == Exit.DISK_FULL and "disk holding the case folder" in err and "--resume" in err, err
    assert "internal error" not in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, *args, "--resume")
    assert code == 0, err
    args[5] = "EX2"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recorder, "_bulk_insert", full_db)
        code, _, err = run(capsys, *args)
    assert code == Exit.DISK_FULL and "is full" in err, err
    code, _, err = run(capsys, *args, "--resume")
    assert code == 0, err
    code, out, _ = run(capsys, "verify", case)
    assert code == 0, out
    with sqlite3.connect(tmp_path / "case" / "case.db") as db:
        assert db.execute("SELECT count(*), count(DISTINCT exhibit_id || locator) FROM items").fetchone() == (8, 8)
        assert [r[0] for r in db.execute("SELECT status FROM runs ORDER BY id")] == ["interrupted", "completed"] * 2


def test_a_case_folder_inside_the_evidence_is_refused(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19.11: the case's own files became items, and the evidence folder was written to."""
    root, _ = evidence
    inside = root / "cases" / "c1"
    code, _, err = run(capsys, "triage", str(root), "--case", str(inside), "--exhibit", "EX1")
    assert code == Exit.USAGE and "is inside the evidence" in err
    assert not (root / "cases").exists()
    code, _, err = run(capsys, "triage", str(tmp_path / "case" / "ev"), "--case", str(tmp_path / "case"),
                       "--exhibit", "EX1")  # fmt: skip
    assert code == Exit.USAGE and "inside the case folder" in err


def test_an_exhibit_label_with_escape_sequences_is_shown_escaped(
    tmp_path: Path, evidence: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19.19: the --exhibit label reached the terminal with raw escape sequences."""
    root, vics = evidence
    _import(capsys, vics)
    label = "EX1\x1b[2J\x1b]0;pwned\x07"
    code, out, err = run(capsys, "triage", str(root), "--case", str(tmp_path / "c"), "--exhibit", label,
                         "--hashset", "caid")  # fmt: skip
    assert code == 0, err
    assert "\x1b" not in out + err and "\x07" not in out + err and "EX1\\x1b[2J" in out


def test_a_full_disk_outside_a_command_is_still_one_sentence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import safenet.cli

    def full(**_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safenet.cli, "app", full)
    code, _, err = run(capsys, "verify", "x")
    assert code == Exit.DISK_FULL and "disk is full" in err and "internal error" not in err


def test_a_case_that_cannot_be_opened_for_want_of_space_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19.10: a full disk while opening a case read as exit 5 "cannot be read as a Safenet case"."""
    import safenet.case.store as store_module
    from safenet.case.store import Case

    Case.create_or_open(tmp_path / "case").close()

    def full(*_: object, **__: object) -> object:
        def session() -> None:
            raise sqlite3.OperationalError("database or disk is full")

        return session

    monkeypatch.setattr(store_module, "sessionmaker", full)
    code, _, err = run(capsys, "report", str(tmp_path / "case"))
    assert code == Exit.DISK_FULL and "is full" in err and "cannot be read" not in err


def test_a_warning_about_the_whole_file_is_printed_without_an_empty_locator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: the import and build warning callbacks had drifted; a VICS profile warning printed 'warning: : …'."""
    import json

    path = tmp_path / "fr.json"
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/FR/$metadata#Media"
    media = [{"MediaID": 1, "MD5": "0" * 31 + "1", "Category": 1}]
    path.write_text(json.dumps({"@odata.context": context, "value": media}))
    code, _, err = run(capsys, "hashset", "import", str(path), "--name", "fr-set")
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any("VICS profile 'FR'" in line for line in lines), err
    assert not any(line.startswith("warning: :") for line in lines), err


_ENDING = """
import atexit, gc, sys, tempfile, threading, time
from pathlib import Path
from safenet import cli

folder = Path(sys.argv.pop(1))
keep = tempfile.TemporaryDirectory()
(Path(keep.name) / "x").write_text("x")
atexit.register(lambda: (folder / "handler").write_text(f"ran {gc.get_threshold()[0]}"))
threading.Thread(target=lambda: (time.sleep(0.3), (folder / "thread").write_text("done"))).start()
print(folder, keep.name, flush=True)
sys.stdout.write("y" * 1000)  # buffered (a pipe), not flushed: the exit writes it
sys.argv = ["safenet", *sys.argv[1:]]
cli.run()
"""


@pytest.mark.parametrize(("args", "code"), [(["--version"], Exit.OK), (["verify", "/nonexistent/case"], Exit.CASE)])
def test_the_entry_point_ends_as_the_interpreter_would(tmp_path: Path, args: list[str], code: int) -> None:
    """``run`` skips the interpreter's teardown, not what a command left to it: its non-daemon threads finish,
    the exit handlers run (temporary folders go), buffered output is written, and the exit code is main's."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # so that the output is buffered
    proc = subprocess.run(
        [sys.executable, "-c", _ENDING, str(tmp_path), *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == code and "Traceback" not in proc.stderr
    first, rest = proc.stdout.split("\n", 1)
    folder, kept = (Path(part) for part in first.split())
    assert rest.startswith("y" * 1000)
    if args == ["--version"]:
        assert rest.endswith(f"{version_line()}\n")
    assert (folder / "handler").read_text() == f"ran {YOUNG_OBJECTS}" and (folder / "thread").read_text() == "done"
    assert not Path(kept).exists()
