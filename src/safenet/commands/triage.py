"""``safenet triage`` (one exhibit, or several devices at once, into a case) and ``safenet inspect`` (what an image
or device holds)."""

from __future__ import annotations

import getpass
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from safenet.commands.clusteropts import Cluster, PathMaps, check_cluster, cluster_target
from safenet.commands.common import (
    Exit,
    HashDb,
    Keys,
    Partitions,
    Password,
    Recovery,
    fail,
    open_context,
    out,
    parse_labelled,
    store,
    user_errors,
)
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.profiles import Profile

if TYPE_CHECKING:
    from safenet.case.store import Case
    from safenet.engine.triage import TriageOptions
    from safenet.evidence.model import Acquire
    from safenet.evidence.registry import Source
    from safenet.hashsets.store import HashSetStore

Filesystem = Annotated[
    str | None,
    typer.Option(
        "--filesystem",
        help="Where a volume holds two file systems (re-formatting can leave both), examine only this one: "
        "ntfs, fat, exfat, ext, hfs or iso9660 (default: each that opens, each as its own layer).",
    ),
]


def triage_cmd(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Evidence: a disk image (E01, raw, VMDK, VHD, QCOW ...) or device, a mounted volume, a folder, "
            "a single file, a phone backup or extraction, or a live phone (android://SERIAL, ios://UDID); "
            "several at once as LABEL=SOURCE (EX1=/dev/sdb EX2=laptop.E01 EX3=android://SERIAL).",
            show_default=False,
        ),
    ],
    case: Annotated[Path, typer.Option("--case", help="Case folder (created if new).")],
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="A new case's rows go in this empty PostgreSQL database (postgresql://user@host/dbname) instead "
            "of case.db in the folder; an existing case finds its own.",
        ),
    ] = None,
    exhibit: Annotated[
        str | None, typer.Option("--exhibit", help="Exhibit label, e.g. EX1 (one source given without a label).")
    ] = None,
    hashset: Annotated[list[str] | None, typer.Option("--hashset", help="Hash set to match (repeatable).")] = None,
    profile: Annotated[
        Profile,
        typer.Option("--profile", help="quick (media only), standard (+archives), full (every file hashed)."),
    ] = Profile.QUICK,
    digests: Annotated[
        str | None,
        typer.Option(
            "--digests",
            help="Digests to compute, e.g. md5,sha1,sha256,ed2k (default: MD5, SHA-1 and SHA-256, and ED2K in the "
            "full profile; quick profile: MD5 and SHA-256; SHA-1 and ED2K also when a selected hash set holds them).",
        ),
    ] = None,
    stop_at_first_hit: Annotated[
        bool,
        typer.Option(
            "--stop-at-first-hit", help="End at the first item matching an illicit set; the case stays valid."
        ),
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted or stopped run of this exhibit.")
    ] = False,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Examiner name for the record (default: login name).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Workers (threads or processes).")] = 2,
    executor: Annotated[
        ExecutorKind | None,
        typer.Option(
            "--executor", help="Where workers run: inline, threads, processes (default: processes for PDQ work)."
        ),
    ] = None,
    cluster: Cluster = None,
    path_map: PathMaps = None,
    hashdb: HashDb = None,
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
    partition: Partitions = None,
    filesystem: Filesystem = None,
    verify_image: Annotated[
        bool, typer.Option("--verify-image", help="Hash the image (E01: check its stored MD5/SHA-1) first.")
    ] = False,
    ios_backup: Annotated[
        bool,
        typer.Option(
            "--ios-backup",
            help="ios://UDID: take a full local backup (encrypted: with the phone's backup password given with "
            "--password, else a one-time password Safenet sets, records in the case and removes after) into the "
            "case, and read every domain it holds instead of the media domain alone.",
        ),
    ] = False,
    authority: Annotated[
        str | None,
        typer.Option(
            "--authority",
            help="The power relied on to examine the exhibit, e.g. the warrant reference (stored as the exhibit's "
            "authority field, audited; `safenet case set --exhibit EX authority=...` changes it).",
        ),
    ] = None,
    visit: Annotated[
        str | None,
        typer.Option("--visit", help="Operation visit, e.g. V-7: link the exhibit to it after the triage (ops)."),
    ] = None,
) -> None:
    """Triage one exhibit, or several devices at once, into a case: hash, match, record, summarise."""
    # Imported here, not at the top: the engine loads NumPy, Pillow, dfVFS and SQLAlchemy, and the command
    # line must parse (and answer --help) without them. The case database (SQLAlchemy) is loaded once the
    # examination has begun (engine.examination.Early).
    from safenet.analysis.digests import parse_algorithms
    from safenet.console import RichEvents, plain, print_summary
    from safenet.engine.preparing import TriageOptions, check_apart
    from safenet.evidence.registry import as_source

    with user_errors(case):
        try:
            algorithms = parse_algorithms(digests) if digests is not None else None
            pairs = _labelled(sources, exhibit)
            target = cluster_target(cluster, path_map)
        except ValueError as exc:
            fail(Exit.USAGE, str(exc))
        devices = [(label, as_source(text)) for label, text in pairs]
        if target is not None:
            executor = check_cluster(target, executor, [source for _, source in devices])
        for _, evidence in devices:
            check_apart(evidence, case)  # before the case folder is created: never write into the evidence
        context = replace(open_context(password, recovery, keys, partition), filesystem=filesystem or "")
        if ios_backup:
            context = replace(context, acquire=_ios_backup(devices, exhibit, case, resume))
        hashsets = store(hashdb) if hashset or hashdb else None  # --resume: the run record names them
        options = TriageOptions(
            exhibit=devices[0][0],
            profile=profile,
            algorithms=algorithms,
            hashsets=tuple(hashset or ()),
            stop_at_first_hit=stop_at_first_hit,
            resume=resume,
            workers=workers,
            executor=executor,
            operator=operator or getpass.getuser(),
            context=context,
            verify_image=verify_image,
            authority=authority,
            cluster=target,
        )
        if visit is not None:  # the visit must exist, and the user may link to it, before any work
            from safenet.commands.ops import check_visit, link_triaged

            check_visit(visit)
        early = None
        first = devices[0][1]
        if (
            exhibit is not None
            and not (resume or ios_backup or verify_image)
            and isinstance(first, Path)
            and first.is_dir()
        ):
            from safenet.engine.examination import begin_early  # a new run of a folder: begun while the case opens

            early = begin_early(first, case, hashsets, options)
        try:
            from safenet.case.store import Case
            from safenet.engine.triage import RunStatus, triage

            the_case = Case.create_or_open(case, db)
            if exhibit is None:  # sources given as LABEL=SOURCE: every device at once
                try:
                    _triage_many(devices, the_case, hashsets, options)
                finally:  # a device that failed is linked too: the visit shows what its case holds
                    if visit is not None:
                        link_triaged(visit, case, [label for label, _ in devices])
                return
            with RichEvents(out, exhibit) as events:
                outcome = triage(devices[0][1], the_case, hashsets, options, events, early)
        finally:
            if early is not None:  # nothing, once the run has taken it
                early.discard()
        from safenet.report.summary import summarise  # here: its case queries are not needed before the summary

        print_summary(out, summarise(the_case))
        out.print(plain(f"run {outcome.run_id}: {outcome.status.value} in {outcome.seconds:.1f} s; case {case}"))
        if visit is not None:
            link_triaged(visit, case, [exhibit])
        if outcome.status is RunStatus.STOPPED:
            out.print(
                Text(
                    "stopped at the first hit; `safenet triage --resume` with the same --case and --exhibit "
                    "finishes the exhibit",
                    style="yellow",
                )
            )
        if outcome.status is RunStatus.INTERRUPTED:
            raise KeyboardInterrupt


def _ios_backup(devices: list[tuple[str, Source]], exhibit: str | None, case: Path, resume: bool) -> Acquire:
    """Where ``--ios-backup`` keeps the backup in the case; a usage error unless one ios:// source is named."""
    from safenet.evidence.model import Acquire
    from safenet.evidence.phone.ios_fullbackup import acquisition_folder
    from safenet.evidence.registry import DeviceAddress

    source = devices[0][1]
    if exhibit is None or len(devices) != 1 or not (isinstance(source, DeviceAddress) and source.scheme == "ios"):
        fail(Exit.USAGE, "--ios-backup takes one live iPhone or iPad: give ios://UDID with --exhibit")
    root = case.resolve()
    return Acquire(root, acquisition_folder(root, exhibit), resume)


def _labelled(sources: list[str], exhibit: str | None) -> list[tuple[str, str]]:
    """(label, source) pairs: one source named by --exhibit as given (its path may hold "="), else LABEL=SOURCE."""
    if exhibit is not None:
        if len(sources) > 1:
            raise ValueError(
                "--exhibit names one source; give several as LABEL=SOURCE (EX1=/dev/sdb EX2=laptop.E01) without it"
            )
        return [(exhibit, sources[0])]
    if len(sources) == 1 and "=" not in sources[0]:
        raise ValueError(f"name the exhibit: --exhibit EX1, or give the source as EX1={sources[0]}")
    return parse_labelled(sources)


def _triage_many(
    devices: list[tuple[str, Source]], case: Case, hashsets: HashSetStore | None, options: TriageOptions
) -> None:
    """Every device at once, a row each, each verdict as it arrives, then the seize / may-be-left summary."""
    from safenet.commands.triageview import TriageDisplay, exit_code, summary
    from safenet.console import print_summary
    from safenet.engine.multi import at_once
    from safenet.report.summary import summarise

    # the exhibits' processes are forked first: the display's refresh thread must not be running then
    with at_once(devices, case, hashsets, options) as running, TriageDisplay(out, [lb for lb, _ in devices]) as view:
        outcomes = running.wait(view)
    print_summary(out, summarise(case))
    summary(out, outcomes)
    code = exit_code(outcomes)
    if code != Exit.OK:
        raise typer.Exit(code)


def inspect_cmd(
    source: Annotated[Path, typer.Argument(help="A disk image (E01, raw, VMDK, VHD, QCOW ...) or a device.")],
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
    filesystem: Filesystem = None,
) -> None:
    """Show the volumes, file systems, encryption, sizes and stored hash of a disk image or device."""
    from safenet.console import plain
    from safenet.inspect import inspect_source

    with user_errors():
        context = replace(open_context(password, recovery, keys, None), filesystem=filesystem or "")
        info = inspect_source(source, context)
        out.print(
            plain(
                f"{info['source']}: {info['format']} {'device' if info['device'] else 'image'}, {info['size']:,} bytes"
            )
        )
        for algorithm, value in info["stored_hashes"].items():
            out.print(plain(f"  stored {algorithm.upper()}: {value}"))
        for volume in info["volumes"]:
            where = f" at {volume['offset']:,}, {volume['length']:,} bytes" if volume["length"] else ""
            state = volume["state"] + (f" ({volume['message']})" if volume["message"] else "")
            out.print(plain(f"  {volume['name']}{where}: {state}"))
