"""Review UI on PostgreSQL (issue 18): ``safenet review --workers 4``, 20 reviewers grading at once.

Input: ``--count`` benign generated pictures (``safenet.demo.picture``, 320×240 JPEG) triaged into a SQLite case
(quick profile, no hash set), moved to a new database of a PostgreSQL server with ``safenet case copy``'s code.
The server is the real command, ``safenet review CASE --workers N`` on a free loopback port (uvicorn worker
processes sharing one socket; sessions, CSRF secret, login limit in the database), a temporary user store with
``--reviewers`` examiners (cheap argon2 settings, so logging in is not what is measured).

Load (bounded, loopback only): each reviewer is one thread with its own HTTP client (``httpx2``, keep-alive):
it logs in through the form, loads the grid for its CSRF token, waits for the others, then grades its own
``--grades`` items one request at a time (``POST /api/grade``, one item each, as the keyboard does), so all
reviewers grade concurrently and every request must write one new row. Measured per grade: the wall time of
the request as the client sees it (median, p95, max), and the throughput of the whole burst.

Checked afterwards, from the database and the audit log: grading rows = grades answered 200 (none lost, none
duplicated: one row per (item, examiner), each row id in exactly one ``item-graded`` line), the audit chain
verifies with gap-free sequence numbers, and ``verify`` passes on the case.

PostgreSQL: ``$SAFENET_TEST_PG_URL`` if set (a server URL; a database is created per run), otherwise the script
runs itself under ``.ci/with-postgres`` (a throwaway loopback cluster). ``--markdown`` prints the README line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
from argon2 import PasswordHasher
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ROOT, host_info, print_table
from safenet.case.copy import copy_case
from safenet.case.schema import GradingRow, ItemRow
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.demo import picture
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, UserStore

sys.path.insert(0, str(ROOT))  # the tests' throwaway databases: one definition
from tests.pgcase import ENV, Databases

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _build(work: Path, count: int, database: str) -> tuple[Path, list[int]]:
    evidence = work / "ev"
    evidence.mkdir()
    for seed in range(count):
        picture(1000 + seed, (320, 240)).save(evidence / f"p{seed:05d}.jpg", format="JPEG", quality=85)
    case = Case.create_or_open(work / "sqlite-case")
    options = TriageOptions(exhibit="EX1", operator="bench", profile=Profile.QUICK, executor=ExecutorKind.INLINE)
    triage(evidence, case, HashSetStore(work / "hashdb"), options)
    case.close()
    copy_case(work / "sqlite-case", work / "case", database)
    case = Case.open_existing(work / "case")
    with case.sessions() as s:
        ids = list(s.scalars(select(ItemRow.id).where(ItemRow.media_kind == "image").order_by(ItemRow.id)))
    case.close()
    return work / "case", ids


def _users(path: Path, reviewers: int) -> list[str]:
    store = UserStore(path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    names = [f"examiner{n:02d}" for n in range(reviewers)]
    for name in names:
        store.add(name, Role.EXAMINER, PASSWORD)
    return names


def _csrf(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', html)
    if not match:
        raise RuntimeError("page has no CSRF token")
    return match.group(1)


class Reviewer(threading.Thread):
    def __init__(self, base: str, name: str, items: list[int], start: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.base, self.name_, self.items, self.start_line = base, name, items, start
        self.latencies: list[float] = []
        self.statuses: list[int] = []
        self.error: str | None = None

    def run(self) -> None:
        try:
            with httpx2.Client(base_url=self.base, timeout=60, follow_redirects=False) as client:
                token = _csrf(client.get("/login").text)
                login = client.post("/login", data={"name": self.name_, "password": PASSWORD, "csrf_token": token})
                if login.status_code != 303:
                    raise RuntimeError(f"login {login.status_code}")
                token = _csrf(client.get("/review").text)
                self.start_line.wait()
                for item in self.items:
                    began = time.perf_counter()
                    response = client.post(
                        "/api/grade", json={"grade": "C", "item_ids": [item]}, headers={"X-CSRF-Token": token}
                    )
                    self.latencies.append(time.perf_counter() - began)
                    self.statuses.append(response.status_code)
        except Exception as exc:  # reported, and counted as lost grades
            self.error = f"{exc.__class__.__name__}: {exc}"
            self.start_line.abort()


def _serve(case: Path, users: Path, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [
        str(ROOT / ".venv" / "bin" / "safenet"),
        "review",
        str(case),
        "--workers",
        str(workers),
        "--port",
        str(port),
        "--users-file",
        str(users),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    ready = 0
    while time.monotonic() < deadline and ready < workers * 2:  # a few answers: the workers have started
        if server.poll() is not None:
            raise RuntimeError(f"review server exited: {server.stderr.read().decode() if server.stderr else ''}")
        try:
            ready += httpx2.get(base + "/login", timeout=5).status_code == 200
        except httpx2.TransportError:
            time.sleep(0.2)
    return server, base


def _check(case_path: Path, answered: int) -> dict[str, Any]:
    case = Case.open_existing(case_path)
    with case.sessions() as s:
        rows = s.scalar(select(func.count()).select_from(GradingRow)) or 0
        pairs = s.execute(select(GradingRow.item_id, GradingRow.examiner)).all()
        ids = set(s.scalars(select(GradingRow.id)))
    entries = case.audit.entries()
    lines = [e["data"]["row"] for e in entries if e["event"] == "item-graded"]
    chain = case.audit.verify()
    seqs_ok = [e["seq"] for e in entries] == list(range(len(entries)))
    verified = verify_case(case)
    case.close()
    return {
        "answered_200": answered,
        "rows": rows,
        "lost": max(0, answered - rows),
        "duplicated_rows": len(pairs) - len(set(pairs)),
        "audit_lines": len(lines),
        "audit_lines_without_row": len(set(lines) - ids),
        "rows_without_audit_line": len(ids - set(lines)),
        "audit_lines_twice": len(lines) - len(set(lines)),
        "chain_ok": chain.ok and seqs_ok,
        "verify_ok": verified.ok,
        "verify_problems": verified.problems[:5],
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    """One run on a new database of the server, dropped afterwards (the tests' ``Databases``)."""
    databases = Databases(server_url)
    try:
        return _run(args, databases.new().replace("postgresql+psycopg://", "postgresql://"))
    finally:
        databases.drop_all()


def _run(args: argparse.Namespace, database: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="safenet-pg-review-") as tmp:
        work = Path(tmp)
        env = dict(os.environ)
        env.update(
            SAFENET_AUDIT_KEY=str(work / "audit-key.pem"),
            XDG_DATA_HOME=str(work / "xdg"),
            SAFENET_HASHDB=str(work / "hashdb"),
        )
        os.environ.update({k: env[k] for k in ("SAFENET_AUDIT_KEY", "XDG_DATA_HOME", "SAFENET_HASHDB")})
        needed = args.reviewers * args.grades
        if args.count < needed:
            raise SystemExit(f"--count must be at least reviewers × grades = {needed}")
        host = host_info()  # the load before this run adds its own
        began = time.perf_counter()
        case, items = _build(work, args.count, database)
        build_s = time.perf_counter() - began
        names = _users(work / "users.sqlite", args.reviewers)
        server, base = _serve(case, work / "users.sqlite", args.workers, env)
        try:
            start = threading.Barrier(args.reviewers + 1)
            reviewers = [
                Reviewer(base, name, items[i * args.grades : (i + 1) * args.grades], start)
                for i, name in enumerate(names)
            ]
            for reviewer in reviewers:
                reviewer.start()
            start.wait(timeout=300)
            burst = time.perf_counter()
            for reviewer in reviewers:
                reviewer.join(600)
            burst_s = time.perf_counter() - burst
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
        latencies = [x for r in reviewers for x in r.latencies]
        answered = sum(status == 200 for r in reviewers for status in r.statuses)
        other = sorted({status for r in reviewers for status in r.statuses if status != 200})
        result: dict[str, Any] = {
            "workers": args.workers,
            "reviewers": args.reviewers,
            "grades_sent": len(latencies),
            "grades_per_reviewer": args.grades,
            "other_statuses": other,
            "errors": [r.error for r in reviewers if r.error],
            "median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p95_ms": round(_pct(latencies, 0.95) * 1000, 1) if latencies else None,
            "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "grades_per_s": round(len(latencies) / burst_s, 1) if burst_s else None,
            "build_s": round(build_s, 1),
            **_check(case, answered),
            "host": host,
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--grades", type=int, default=20, help="grades per reviewer (one item per request)")
    parser.add_argument("--count", type=int, default=400, help="pictures in the case (>= reviewers × grades)")
    parser.add_argument("--markdown", action="store_true", help="print the README line")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    server_url = os.environ.get(ENV)
    if not server_url:  # a throwaway cluster for this run only
        wrapper = ROOT / ".ci" / "with-postgres"
        return subprocess.call([str(wrapper), sys.executable, *sys.argv])
    result = run(args, server_url)
    print_table(
        ["workers", "reviewers", "grades", "median ms", "p95 ms", "max ms", "grades/s", "lost", "duplicated"],
        [
            [
                result["workers"],
                result["reviewers"],
                result["grades_sent"],
                result["median_ms"],
                result["p95_ms"],
                result["max_ms"],
                result["grades_per_s"],
                result["lost"],
                result["duplicated_rows"] + result["audit_lines_twice"],
            ]
        ],
    )
    print(json.dumps({k: v for k, v in result.items() if k != "host"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        host = result["host"]
        print(
            "- Review UI on PostgreSQL (`.venv/bin/python bench/bench_pg_review.py`, "
            f"commit {host['git'].get('head')}, load {host['loadavg_at_start'][0]}): "
            f"`safenet review --workers {result['workers']}`, "
            f"{result['reviewers']} reviewers grading at once over loopback, {result['grades_sent']} grades: "
            f"p95 **{result['p95_ms']} ms** (median {result['median_ms']} ms, max {result['max_ms']} ms), "
            f"{result['grades_per_s']} grades/s; **{result['lost']}** lost and "
            f"**{result['duplicated_rows'] + result['audit_lines_twice']}** duplicated grades (database rows and "
            f"audit lines counted), audit chain {'intact' if result['chain_ok'] else 'BROKEN'}, "
            f"verify {'passes' if result['verify_ok'] else 'FAILS'}."
        )
    ok = (
        result["lost"] == 0
        and result["duplicated_rows"] == 0
        and result["audit_lines_twice"] == 0
        and result["rows_without_audit_line"] == 0
        and result["audit_lines_without_row"] == 0
        and result["chain_ok"]
        and result["verify_ok"]
        and not result["errors"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
