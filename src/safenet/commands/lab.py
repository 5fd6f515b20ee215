"""``safenet lab``: the lab's exhibit queue (submit, run, status, requeue), triaged on a Dask cluster."""

from __future__ import annotations

import getpass
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from safenet.commands.clusteropts import Cluster, PathMaps, cluster_target
from safenet.commands.common import Exit, HashDb, default_hashdb, fail, out, parse_labelled, user_errors
from safenet.engine.profiles import Profile
from safenet.installation import data_dir

if TYPE_CHECKING:
    from safenet.lab.queue import LabQueue
    from safenet.lab.runner import Ended

lab_app = typer.Typer(help="The lab's exhibit queue: full triage of many exhibits on a Dask cluster.")


def _queue() -> LabQueue:
    from safenet.lab.queue import FILE_NAME, LabQueue

    return LabQueue(data_dir() / FILE_NAME)


def _ended(ended: Ended) -> None:
    from safenet.console import plain

    style = {"done": "green", "failed": "red"}.get(ended.state.value, "yellow")
    out.print(plain(f"{ended.entry.label} ({ended.entry.case_dir}): {ended.state.value}: {ended.message}", style))


def _work(operator: str | None) -> None:
    from safenet.lab.runner import work_through

    with user_errors():
        count = work_through(_queue(), operator or getpass.getuser(), _ended)
    out.print(Text(f"queue empty: {count} exhibit(s) run"))


@lab_app.command("submit")
def submit_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder (created if new).")],
    exhibits: Annotated[
        list[str], typer.Argument(help="Exhibits as LABEL=SOURCE (EX4=phone.tar EX5=usb.E01).", show_default=False)
    ],
    profile: Annotated[Profile, typer.Option("--profile", help="quick, standard or full.")] = Profile.FULL,
    hashset: Annotated[list[str] | None, typer.Option("--hashset", help="Hash set to match (repeatable).")] = None,
    hashdb: HashDb = None,
    cluster: Cluster = None,
    path_map: PathMaps = None,
    deadline: Annotated[
        str | None,
        typer.Option("--deadline", help="Charging deadline (YYYY-MM-DD): earlier deadlines run first."),
    ] = None,
    priority: Annotated[int, typer.Option("--priority", help="Among equal deadlines, higher runs first.")] = 0,
    queue_only: Annotated[
        bool, typer.Option("--queue-only", help="Only queue; `safenet lab run` works through the queue.")
    ] = False,
    operator: Annotated[str | None, typer.Option("--operator", help="Examiner name (default: login name).")] = None,
) -> None:
    """Queue exhibits for triage (charging deadlines first), then work through the queue unless --queue-only."""
    from safenet.console import plain
    from safenet.evidence.registry import DeviceAddress, as_source
    from safenet.lab.queue import Submission

    try:
        pairs = parse_labelled(exhibits)
        target = cluster_target(cluster, path_map)
        when = date.fromisoformat(deadline) if deadline is not None else None
    except ValueError as exc:
        fail(Exit.USAGE, str(exc))
    submissions = []
    for label, text in pairs:
        source = as_source(text)
        if isinstance(source, DeviceAddress):
            fail(Exit.USAGE, f"{text}: a live device is triaged where it is plugged in (`safenet triage`), not queued")
        if not source.exists():
            fail(Exit.EVIDENCE, f"evidence path {source} does not exist; check the path and that the drive is mounted")
        submissions.append(
            Submission(
                case.resolve(),
                label,
                source.resolve(),
                profile.value,
                tuple(hashset or ()),
                (hashdb or default_hashdb()).resolve(),
                target,
                when,
                priority,
            )
        )
    ids = _queue().submit(submissions)
    for entry_id, (label, _) in zip(ids, pairs, strict=True):
        out.print(plain(f"queued {label} as #{entry_id}"))
    if not queue_only:
        _work(operator)


@lab_app.command("run")
def run_cmd(
    operator: Annotated[str | None, typer.Option("--operator", help="Examiner name (default: login name).")] = None,
) -> None:
    """Work through the queue until it is empty (several `lab run` may share it: each takes its own exhibit)."""
    _work(operator)


@lab_app.command("requeue")
def requeue_cmd(entry: Annotated[int, typer.Argument(help="The entry's number (#N in `lab status`).")]) -> None:
    """Put a failed entry, or one whose coordinator stopped on another machine, back in the queue."""
    if not _queue().requeue(entry, "queued again by hand"):
        fail(Exit.USAGE, f"there is no entry #{entry} to queue again (or it is done)")
    out.print(Text(f"#{entry} queued again; its run is resumed"))


def _progress(done: int, planned: int | None) -> str:
    if planned is None:
        return "not listed yet" if done == 0 else str(done)
    return f"{done}/{planned} ({100 * done // planned if planned else 100} %)"


def _ago(when: float | None) -> str:
    return "" if when is None else f"{max(0, time.time() - when):.0f} s ago"


@lab_app.command("status")
def status_cmd() -> None:
    """The queue (running, then queued in run order, then finished), and each cluster's workers and dashboard."""
    from safenet.console import plain
    from safenet.lab.health import cluster_health

    entries = _queue().entries()
    for e in entries:  # one line each (a table would cut the paths on a narrow terminal)
        parts = [f"#{e.id} {e.label}", e.state.value, _progress(e.done, e.planned), f"{e.hits} hits"]
        parts += [f"deadline {e.deadline.isoformat()}"] if e.deadline else []
        parts += [f"priority {e.priority}"] if e.priority else []
        parts += [f"on {e.host} (pid {e.pid}), updated {_ago(e.updated)}"] if e.state.value == "running" else []
        parts += [f"case {e.case_dir}"] + ([e.message] if e.message else [])
        out.print(plain("  ".join(parts)))
    if not entries:
        out.print(Text("the queue is empty"))
    clusters = dict.fromkeys(e.cluster.address for e in entries if e.cluster and e.state.value != "done")
    for address in clusters:
        health = cluster_health(address)
        if not health.reachable:
            out.print(plain(f"cluster {address}: not reachable ({health.problem})", "red"))
            continue
        out.print(plain(f"cluster {address}: {len(health.workers)} worker(s); dashboard {health.dashboard}"))
        for w in health.workers:
            limit = f" of {w.memory_limit / 2**20:.0f}" if w.memory_limit else ""
            memory = f"{w.memory / 2**20:.0f}{limit} MiB"
            late = " (no heartbeat: lost?)" if w.seen_ago > 30 else ""
            out.print(
                plain(
                    f"  {w.name} {w.address}: {w.threads} thread(s), {w.executing} task(s) running, {memory}, "
                    f"seen {w.seen_ago:.0f} s ago{late}"
                )
            )
