"""``safenet lab``: the exhibit queue (order, claims, a stopped coordinator) and submit/run/status on a cluster."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from safenet.case.store import Case
from safenet.cli import main
from safenet.engine.cluster import ClusterTarget
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.installation import data_dir
from safenet.lab.queue import FILE_NAME, LabQueue, State, Submission
from safenet.lab.runner import work_through
from tests.dasklocal import local_cluster
from tests.engine.daskcases import FILES, HITS, build_tree, rows, run
from tests.engine.test_triage import Collect


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterTarget]:
    with local_cluster() as local:
        yield ClusterTarget(local.scheduler_address)


def _submission(label: str, deadline: str | None = None, priority: int = 0) -> Submission:
    when = date.fromisoformat(deadline) if deadline else None
    return Submission(Path("/c"), label, Path(f"/ev/{label}"), "full", deadline=when, priority=priority)


def test_charging_deadlines_run_first_then_priority_then_submission(tmp_path: Path) -> None:
    queue = LabQueue(tmp_path / "lab.db")
    queue.submit(
        [
            _submission("late", "2026-12-30"),
            _submission("none-low"),
            _submission("soon", "2026-12-20"),
            _submission("none-high", priority=5),
            _submission("soon-high", "2026-12-20", priority=1),
        ]
    )
    taken = []
    while (entry := queue.claim("h", 1, alive=lambda pid: True)) is not None:
        taken.append(entry.label)
        queue.finish(entry.id, State.DONE, "ok")
    assert taken == ["soon-high", "soon", "late", "none-high", "none-low"]
    assert (tmp_path / "lab.db").stat().st_mode & 0o077 == 0  # evidence paths and labels: owner only


def test_a_stopped_coordinators_entry_is_queued_again_to_be_resumed(tmp_path: Path) -> None:
    queue = LabQueue(tmp_path / "lab.db")
    [first, second] = queue.submit([_submission("EX1"), _submission("EX2")])
    assert queue.claim("h", 111, alive=lambda pid: True).id == first  # type: ignore[union-attr]
    assert queue.claim("other", 222, alive=lambda pid: False).id == second  # type: ignore[union-attr]
    # pid 111 on host h is gone (killed): the next claim on h takes its entry back (the runner resumes its run)
    again = queue.claim("h", 333, alive=lambda pid: pid != 111)
    assert again is not None and again.id == first and again.pid == 333
    # an entry left running by another host is not guessed at: it stays, and `lab requeue` puts it back
    assert [e.state for e in queue.entries() if e.label == "EX2"] == [State.RUNNING]
    assert queue.requeue(second, "by hand")
    assert not queue.requeue(999, "nothing")


def test_a_killed_coordinators_exhibit_is_resumed_and_recorded_once(
    tmp_path: Path, cluster: ClusterTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev, db = build_tree(tmp_path)
    queue = LabQueue(tmp_path / "lab.db")
    [entry_id] = queue.submit([Submission(tmp_path / "case", "EX1", ev, "standard", ("s",), db, cluster)])
    claimed = queue.claim("h", 111, alive=lambda pid: True)
    assert claimed is not None
    # the coordinator began the run and stopped part-way (as if killed): the case holds a resumable run
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.STANDARD, hashsets=("s",), stop_at_first_hit=True)
    assert triage(ev, case, HashSetStore(db), options, Collect()).status is RunStatus.STOPPED
    monkeypatch.setattr("safenet.lab.queue.pid_alive", lambda pid: False)
    monkeypatch.setattr("socket.gethostname", lambda: "h")
    assert work_through(queue, "t") == 1
    [entry] = queue.entries()
    assert entry.id == entry_id and entry.state is State.DONE
    assert entry.done == entry.planned and entry.hits == HITS - 1  # the first hit was the stopped run's
    reference = rows(run(ev, tmp_path / "local", db)[0])
    recorded = rows(case)  # in another order than one run's (the stopped run took the first hit's batch first)
    assert sorted(r[2:] for r in recorded["items"]) == sorted(r[2:] for r in reference["items"])
    assert sorted(recorded["findings"]) == sorted(reference["findings"])
    assert len(rows(case)["items"]) == FILES + 3 and len(rows(case)["findings"]) == HITS


def test_submit_runs_the_queue_on_the_cluster_and_status_shows_it(
    tmp_path: Path, cluster: ClusterTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    ev, db = build_tree(tmp_path)
    args = ["lab", "submit", str(tmp_path / "case"), f"EX4={ev}", "--profile", "standard", "--hashset", "s"]
    args += ["--hashdb", str(db), "--cluster", cluster.address, "--deadline", "2026-12-20"]
    assert main(args) == 0
    output = capsys.readouterr().out
    assert "queued EX4 as #1" in output and "EX4" in output and "done" in output
    assert rows(Case.create_or_open(tmp_path / "case")) == rows(run(ev, tmp_path / "local", db)[0])
    with sqlite3.connect(tmp_path / "case" / "case.db") as con:
        assert "dask" in con.execute("SELECT config_json FROM runs").fetchone()[0]
    queue_args = ["lab", "submit", str(tmp_path / "case2"), f"EX5={ev}", "--cluster", cluster.address]
    assert main([*queue_args, "--queue-only"]) == 0
    assert main(["lab", "status"]) == 0
    status = capsys.readouterr().out
    assert "EX5" in status and "queued" in status and "2026-12-20" in status
    assert f"{FILES + 1}/{FILES + 1} (100 %)" in status  # EX4's progress: the top-level files (the zip's are inside)
    assert f"cluster {cluster.address}: 2 worker(s); dashboard" in status
    assert main(["lab", "run"]) == 0
    assert "1 exhibit(s) run" in capsys.readouterr().out
    assert (data_dir() / FILE_NAME).exists()


def test_lab_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ev").mkdir()
    base = ["lab", "submit", str(tmp_path / "case")]
    assert main([*base, f"EX1={tmp_path / 'ev'}", "--deadline", "20 December"]) == 2
    assert main([*base, "EX1=android://SERIAL"]) == 2
    assert "plugged in" in capsys.readouterr().err
    assert main([*base, f"EX1={tmp_path / 'missing'}"]) == 3
    assert main(["lab", "requeue", "7"]) == 2
    assert main(["lab", "status"]) == 0
    assert "the queue is empty" in capsys.readouterr().out


def test_status_says_when_a_scheduler_is_not_reachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("safenet.lab.health.ASK_SECONDS", 1)
    (tmp_path / "ev").mkdir()
    args = ["lab", "submit", str(tmp_path / "case"), f"EX1={tmp_path / 'ev'}", "--cluster", "tcp://127.0.0.1:9"]
    assert main([*args, "--queue-only"]) == 0
    assert main(["lab", "status"]) == 0
    assert "cluster tcp://127.0.0.1:9: not reachable" in capsys.readouterr().out


def test_ctrl_c_puts_the_exhibit_back_in_the_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ev").mkdir()
    queue = LabQueue(tmp_path / "lab.db")
    queue.submit([Submission(tmp_path / "case", "EX1", tmp_path / "ev", "quick")])

    def interrupted(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("safenet.lab.runner.triage", interrupted)
    with pytest.raises(KeyboardInterrupt):
        work_through(queue, "t")
    [entry] = queue.entries()
    assert entry.state is State.QUEUED and entry.pid is None
    assert "interrupted" in (entry.message or "")


def test_a_failed_exhibit_is_marked_and_the_next_one_runs(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    queue = LabQueue(tmp_path / "lab.db")
    queue.submit(
        [
            Submission(tmp_path / "case", "EX1", tmp_path / "gone", "quick"),  # unmounted since it was queued
            Submission(tmp_path / "case", "EX2", tmp_path / "ev", "quick"),
        ]
    )
    assert work_through(queue, "t") == 2
    states = {e.label: (e.state, e.message) for e in queue.entries()}
    assert states["EX1"][0] is State.FAILED and "does not exist" in (states["EX1"][1] or "")
    assert states["EX2"][0] is State.DONE


def test_status_prints_a_schedulers_problem_as_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from safenet.lab.health import ClusterHealth

    problem = "\x1b[2J[bold]gone[/bold]"
    monkeypatch.setattr("safenet.lab.health.cluster_health", lambda address: ClusterHealth(address, False, problem))
    (tmp_path / "ev").mkdir()
    args = ["lab", "submit", str(tmp_path / "case"), f"EX1={tmp_path / 'ev'}", "--cluster", "tcp://127.0.0.1:9"]
    assert main([*args, "--queue-only"]) == 0
    assert main(["lab", "status"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "not reachable (\\x1b[2J[bold]gone[/bold])" in out
