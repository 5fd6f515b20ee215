"""The audit chain under concurrent writers (several review processes on one case): append-only and ordered.

Four processes grade items and append lines at the same moment; afterwards the chain verifies, its sequence
numbers run without a gap, every line chains to the one before (no fork), each writer's lines are there
exactly once and in its own order, every grading row has exactly one audit line (none lost, none doubled),
grading rows' ids follow the log's order, and ``verify`` passes. Runs on SQLite and PostgreSQL (conftest).
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from safenet.case.gradings import Grade, grade_items
from safenet.case.schema import GradingRow, ItemRow
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, User
from tests.builders import jpeg, write
from tests.pgcase import Databases

WRITERS = 4
ROUNDS = 6  # each writer grades each of the 6 pictures once: no grade is a no-op re-grade


def _writer(case_path: str, index: int, items: list[int], start: Barrier) -> None:
    case = Case.open_existing(Path(case_path))  # each process opens the case itself, as a review worker does
    user = User(f"examiner{index}", Role.EXAMINER, datetime(2026, 1, 1, tzinfo=UTC))
    start.wait()
    for n in range(ROUNDS):
        case.audit.append("writer-line", writer=index, n=n)
        # every writer grades every item, at different moments: the same items are contended
        grade_items(case, [items[(index + n) % len(items)]], Grade.C if n % 2 else Grade.B, user, overwrite=True)
    case.close()


def _triaged(tmp_path: Path, first_seed: int) -> tuple[Case, list[int]]:
    """A case holding six pictures triaged, and their item ids."""
    evidence = tmp_path / "ev"
    for seed in range(6):
        write(evidence, f"p{seed}.jpg", jpeg(first_seed + seed))
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", operator="t", executor=ExecutorKind.INLINE)
    triage(evidence, case, HashSetStore(tmp_path / "db"), options)
    with case.sessions() as s:
        return case, sorted(s.scalars(s.query(ItemRow.id).statement))


def test_writers_in_several_processes_keep_one_ordered_chain(tmp_path: Path) -> None:
    case, items = _triaged(tmp_path, 100)
    assert len(items) == ROUNDS
    before = len(case.audit.entries())
    case.close()  # no connection or pool crosses the fork

    context = multiprocessing.get_context("fork")
    start = context.Barrier(WRITERS)
    processes = [context.Process(target=_writer, args=(str(case.path), i, items, start)) for i in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * WRITERS

    case = Case.open_existing(tmp_path / "case")
    check = case.audit.verify()
    assert check.ok, check.problem
    entries = case.audit.entries()
    assert [e["seq"] for e in entries] == list(range(len(entries)))  # no gap, no line twice
    new = entries[before:]
    lines = [(e["data"]["writer"], e["data"]["n"]) for e in new if e["event"] == "writer-line"]
    assert sorted(lines) == [(w, n) for w in range(WRITERS) for n in range(ROUNDS)]
    for writer in range(WRITERS):  # each writer's own lines in its own order
        assert [n for w, n in lines if w == writer] == list(range(ROUNDS))
    graded = [e["data"]["row"] for e in new if e["event"] == "item-graded"]
    with case.sessions() as s:
        rows = sorted(s.scalars(s.query(GradingRow.id).statement))
    assert sorted(graded) == rows and len(rows) == WRITERS * ROUNDS  # none lost, none doubled
    assert graded == rows  # the rows' ids follow the log's order (the writers took turns)
    seq, sha = case.db_head() or (0, "")
    assert (seq, sha) == (entries[-1]["seq"], check.last_hash) or seq < entries[-1]["seq"]  # never ahead
    assert verify_case(case).ok
    case.close()


def test_threads_of_one_process_never_wait_on_the_pool_for_the_audit_head(
    tmp_path: Path, case_db: Databases | None
) -> None:
    """One review process, more grading threads than pooled connections: the grade that holds the writer lock
    copies the audit head on a connection of its own, so it never waits for the pool the waiting grades hold
    (it did: each such grade failed after the pool's timeout, its audit line already written)."""
    if case_db is None:
        pytest.skip("PostgreSQL only: SQLite cases keep the head copy in their own file connection")
    case, items = _triaged(tmp_path, 300)
    url = case.engine.url
    case.close()
    small = Case(case.path, create_engine(url, pool_size=2, max_overflow=0, pool_timeout=3))
    user = User("examiner", Role.EXAMINER, datetime(2026, 1, 1, tzinfo=UTC))
    start = threading.Barrier(len(items))
    failures: list[BaseException] = []

    def grade(item: int) -> None:
        start.wait()
        try:
            grade_items(small, [item], Grade.C, user)
        except BaseException as exc:  # collected: the assertion below names them
            failures.append(exc)

    threads = [threading.Thread(target=grade, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert verify_case(small).ok
    small.close()
