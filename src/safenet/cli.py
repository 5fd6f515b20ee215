"""The ``safenet`` command line (Typer + Rich).

Exit codes (documented in the README; tests check them):
  0  success                      3  evidence path missing or unreadable
  1  internal error (a bug)       4  a hash-set file or name is wrong
  2  usage error (bad option)     5  case folder problem (not a case, in use, already triaged, nothing to resume)
  6  verification failed          130 interrupted (Ctrl-C); the case stays valid, finish with --resume
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from safenet import __version__
from safenet.analysis.digests import DEFAULT_ALGORITHMS, parse_algorithms
from safenet.case.store import Case, CaseError
from safenet.commands.export import export_cmd
from safenet.commands.review import review_cmd
from safenet.commands.users import users_app
from safenet.console import RichEvents, print_summary
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import RunStatus, TriageError, TriageOptions, triage
from safenet.evidence.locator import display_safe
from safenet.evidence.model import Credential, CredentialKind, EvidenceError, OpenContext
from safenet.evidence.registry import SourceNotFound
from safenet.hashsets.catalog import DEFAULT_PDQ_THRESHOLD, MAX_PDQ_THRESHOLD
from safenet.hashsets.model import HashKind, HashSetError, HashSetInfo, SetKind
from safenet.hashsets.store import HashSetStore
from safenet.report.summary import summarise
from safenet.report.writers import WRITERS, write_report


class Exit:
    OK = 0
    INTERNAL = 1
    USAGE = 2
    EVIDENCE = 3
    HASHSET = 4
    CASE = 5
    VERIFY_FAILED = 6
    INTERRUPTED = 130


app = typer.Typer(
    name="safenet",
    help="Triage seized media against national hash sets (CAID, Project VIC) and count hits by UK category.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
hashset_app = typer.Typer(help="Manage the hash-set database (separate from cases).", no_args_is_help=True)
app.add_typer(hashset_app, name="hashset")
app.add_typer(users_app, name="users")
app.command("export")(export_cmd)
app.command("review")(review_cmd)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _default_hashdb() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "safenet" / "hashsets"


HashDb = Annotated[
    Path | None,
    typer.Option(
        "--hashdb",
        envvar="SAFENET_HASHDB",
        help="Hash-set database folder [default: ~/.local/share/safenet/hashsets].",
    ),
]


def _store(hashdb: Path | None) -> HashSetStore:
    return HashSetStore(hashdb or _default_hashdb())


PdqThreshold = Annotated[
    int,
    typer.Option(
        "--pdq-threshold",
        min=0,
        max=MAX_PDQ_THRESHOLD,
        help="Largest PDQ Hamming distance that counts as a match for this set.",
    ),
]

Password = Annotated[str | None, typer.Option("--password", help="Password of an encrypted volume (never recorded).")]
Recovery = Annotated[
    str | None,
    typer.Option("--bitlocker-recovery-password", help="BitLocker/FileVault recovery password (never recorded)."),
]
Keys = Annotated[Path | None, typer.Option("--keys", help="Key file: BitLocker .BEK startup key or LUKS key file.")]
Partitions = Annotated[
    list[str] | None, typer.Option("--partition", help="Examine only this volume, e.g. p2 or vss1 (repeatable).")
]


def _context(
    password: str | None, recovery: str | None, keys: Path | None, partitions: list[str] | None
) -> OpenContext:
    credentials = [
        Credential(kind, value)
        for kind, value in (
            (CredentialKind.PASSWORD, password),
            (CredentialKind.RECOVERY_PASSWORD, recovery),
            (CredentialKind.KEY_FILE, str(keys) if keys else None),
        )
        if value
    ]
    if keys is not None and not keys.is_file():
        fail(Exit.USAGE, f"key file {keys} does not exist or is not a file")
    return OpenContext(tuple(credentials), tuple(partitions or ()))


def fail(code: int, message: str) -> NoReturn:
    err.print(Text("safenet: error: ", style="bold red") + Text(display_safe(message)))
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Map the three failure kinds to one sentence and a documented exit code; never a traceback."""
    try:
        yield
    except SourceNotFound as exc:
        fail(Exit.EVIDENCE, str(exc))
    except EvidenceError as exc:
        fail(Exit.EVIDENCE, str(exc))
    except HashSetError as exc:
        fail(Exit.HASHSET, str(exc))
    except (CaseError, TriageError) as exc:
        fail(Exit.CASE, str(exc))
    except KeyboardInterrupt:
        fail(
            Exit.INTERRUPTED,
            "interrupted; the case stays valid and `safenet triage --resume` finishes the run",
        )


def _version(value: bool) -> None:
    if value:
        out.print(f"safenet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Safenet."""


@hashset_app.command("import")
def hashset_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="Hash-set file: VICS JSON, NSRL (v2 text / v3 SQLite), hashdeep, "
            "md5sum/sha1sum/sha256sum, BSD tags, or a plain list."
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Name to refer to the set by, e.g. caid-2026-10.")],
    kind: Annotated[
        SetKind | None,
        typer.Option("--kind", help="illicit, known-good or notable (VICS defaults to illicit, NSRL to known-good)."),
    ] = None,
    format_name: Annotated[str | None, typer.Option("--format", help="Force a format instead of detecting it.")] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="Category scheme of the set's codes.")] = None,
    scheme_file: Annotated[Path | None, typer.Option("--scheme-file", help="A category scheme YAML file.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a set of the same name.")] = False,
    pdq_threshold: PdqThreshold = DEFAULT_PDQ_THRESHOLD,
    hashdb: HashDb = None,
) -> None:
    """Import a hash set into the hash-set database."""
    with user_errors():
        if not path.is_file():
            fail(Exit.HASHSET, f"hash-set file {path} does not exist or is not a file; check the path")
        warnings: list[str] = []
        info = _store(hashdb).import_file(
            path,
            name,
            kind=kind,
            format_name=format_name,
            scheme=scheme,
            scheme_file=scheme_file,
            replace=replace,
            pdq_threshold=pdq_threshold,
            warn=lambda ref, message: warnings.append(f"{ref}: {message}"),
        )
        _report_set("imported", info, warnings)


def _report_set(verb: str, info: HashSetInfo, warnings: list[str]) -> None:
    for line in warnings[:50]:
        err.print(Text("warning: ", style="yellow") + Text(display_safe(line)))
    if len(warnings) > 50:
        err.print(Text(f"warning: … and {len(warnings) - 50} more"))
    pdq = f", PDQ within {info.pdq_threshold}" if HashKind.PDQ in info.digests else ""
    out.print(
        Text(
            f"{verb} {info.name}: {info.entry_count:,} entries ({info.format}, {info.kind.value}, "
            f"scheme {info.scheme}{pdq}, SHA-256 {info.source_sha256})"
        )
    )


@hashset_app.command("build")
def hashset_build(
    folder: Annotated[Path, typer.Argument(help="Folder of reference images (read only; nothing is copied).")],
    name: Annotated[str, typer.Option("--name", help="Name to refer to the set by.")],
    kind: Annotated[SetKind, typer.Option("--kind", help="illicit, known-good or notable.")],
    category: Annotated[
        str | None, typer.Option("--category", help="Category code of every image, in --scheme's codes (e.g. A).")
    ] = None,
    scheme: Annotated[str | None, typer.Option("--scheme", help="Category scheme of --category, e.g. uk.")] = None,
    scheme_file: Annotated[Path | None, typer.Option("--scheme-file", help="A category scheme YAML file.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a set of the same name.")] = False,
    pdq_threshold: PdqThreshold = DEFAULT_PDQ_THRESHOLD,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Hashing threads.")] = 2,
    hashdb: HashDb = None,
) -> None:
    """Build a hash set (MD5, SHA-1, SHA-256, PDQ) from a folder of reference images."""
    with user_errors():
        if not folder.is_dir():
            fail(Exit.HASHSET, f"{folder} does not exist or is not a folder; give the folder of reference images")
        warnings: list[str] = []
        info = _store(hashdb).build_folder(
            folder,
            name,
            kind=kind,
            category=category,
            scheme=scheme,
            scheme_file=scheme_file,
            replace=replace,
            pdq_threshold=pdq_threshold,
            workers=workers,
            warn=lambda ref, message: warnings.append(f"{ref}: {message}" if ref else message),
        )
        _report_set("built", info, warnings)


@hashset_app.command("list")
def hashset_list(hashdb: HashDb = None) -> None:
    """List the imported hash sets."""
    from rich.table import Table

    with user_errors():
        table = Table()
        table.add_column("Name", no_wrap=True)
        for heading in ("Kind", "Format", "Scheme", "Entries", "Hashes", "Imported (UTC)", "Source SHA-256"):
            table.add_column(heading, overflow="fold")
        for info in _store(hashdb).list():
            hashes = ", ".join(f"pdq≤{info.pdq_threshold}" if k is HashKind.PDQ else k.value for k in info.digests)
            table.add_row(
                Text(info.name),
                info.kind.value,
                info.format,
                info.scheme,
                f"{info.entry_count:,}",
                hashes,
                info.imported_at.isoformat(timespec="seconds"),
                info.source_sha256,
            )
        out.print(table)


@hashset_app.command("remove")
def hashset_remove(name: str, hashdb: HashDb = None) -> None:
    """Remove a hash set from the database."""
    with user_errors():
        _store(hashdb).remove(name)
        out.print(Text(f"removed {name}"))


@app.command("triage")
def triage_cmd(
    source: Annotated[Path, typer.Argument(help="Evidence: a mounted volume, a folder, or a single file.")],
    case: Annotated[Path, typer.Option("--case", help="Case folder (created if new).")],
    exhibit: Annotated[str, typer.Option("--exhibit", help="Exhibit label, e.g. EX1.")],
    hashset: Annotated[list[str] | None, typer.Option("--hashset", help="Hash set to match (repeatable).")] = None,
    profile: Annotated[
        Profile,
        typer.Option("--profile", help="quick (media only), standard (+archives), full (every file hashed)."),
    ] = Profile.QUICK,
    digests: Annotated[str, typer.Option("--digests", help="Digests to compute.")] = ",".join(DEFAULT_ALGORITHMS),
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
    hashdb: HashDb = None,
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
    partition: Partitions = None,
    verify_image: Annotated[
        bool, typer.Option("--verify-image", help="Hash the image (E01: check its stored MD5/SHA-1) first.")
    ] = False,
) -> None:
    """Triage one exhibit into a case: hash, match, record, summarise."""
    with user_errors():
        try:
            algorithms = parse_algorithms(digests)
        except ValueError as exc:
            fail(Exit.USAGE, str(exc))
        store = _store(hashdb) if hashset else None
        options = TriageOptions(
            exhibit=exhibit,
            profile=profile,
            algorithms=algorithms,
            hashsets=tuple(hashset or ()),
            stop_at_first_hit=stop_at_first_hit,
            resume=resume,
            workers=workers,
            executor=executor,
            operator=operator or getpass.getuser(),
            context=_context(password, recovery, keys, partition),
            verify_image=verify_image,
        )
        the_case = Case.create_or_open(case)
        with RichEvents(out, exhibit) as events:
            outcome = triage(source, the_case, store, options, events)
        print_summary(out, summarise(the_case))
        out.print(Text(f"run {outcome.run_id}: {outcome.status.value} in {outcome.seconds:.1f} s; case {case}"))
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


@app.command("inspect")
def inspect_cmd(
    source: Annotated[Path, typer.Argument(help="A disk image (E01, raw, VMDK, VHD, QCOW ...) or a device.")],
    password: Password = None,
    recovery: Recovery = None,
    keys: Keys = None,
) -> None:
    """Show the volumes, file systems, encryption, sizes and stored hash of a disk image or device."""
    from safenet.inspect import inspect_source

    with user_errors():
        info = inspect_source(source, _context(password, recovery, keys, None))
        out.print(
            Text(
                f"{info['source']}: {info['format']} {'device' if info['device'] else 'image'}, {info['size']:,} bytes"
            )
        )
        for algorithm, value in info["stored_hashes"].items():
            out.print(Text(f"  stored {algorithm.upper()}: {value}"))
        for volume in info["volumes"]:
            where = f" at {volume['offset']:,}, {volume['length']:,} bytes" if volume["length"] else ""
            state = volume["state"] + (f" ({volume['message']})" if volume["message"] else "")
            out.print(Text(f"  {volume['name']}{where}: {state}"))


@app.command("report")
def report_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    fmt: Annotated[str, typer.Option("--format", help="html, json or csv.")] = "html",
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of <case>/reports/.")] = None,
) -> None:
    """Write a report of a case."""
    with user_errors():
        if fmt not in WRITERS:
            fail(Exit.USAGE, f"unknown report format '{fmt}'; choose from {', '.join(WRITERS)}")
        path = write_report(Case.open_existing(case), fmt, output)
        out.print(Text(f"report written: {path}"))


@app.command("cluster")
def cluster_cmd(
    case: Annotated[Path, typer.Argument(help="Case folder.")],
    threshold: Annotated[
        int, typer.Option("--threshold", min=0, max=MAX_PDQ_THRESHOLD, help="Largest PDQ distance within a cluster.")
    ] = DEFAULT_PDQ_THRESHOLD,
) -> None:
    """Group the case's unknown images into near-duplicate clusters (PDQ), for grading them together."""
    from safenet.engine.clusters import build_clusters

    with user_errors():
        outcome = build_clusters(Case.open_existing(case), threshold)
        out.print(
            Text(
                f"{outcome.clusters:,} clusters of near-duplicates ({outcome.clustered_items:,} of "
                f"{outcome.candidates:,} unknown images with a usable PDQ hash), distance ≤ {outcome.threshold}"
            )
        )


@app.command("verify")
def verify_cmd(case: Annotated[Path, typer.Argument(help="Case folder.")]) -> None:
    """Check the audit chain and re-hash every finding from the evidence."""
    from safenet.case.verify import verify_case

    with user_errors():
        result = verify_case(Case.open_existing(case))
        for line in result.lines:
            out.print(Text(display_safe(line)))
        if not result.ok:
            fail(Exit.VERIFY_FAILED, f"verification failed: {len(result.problems)} problem(s); see above")
        out.print(Text("verified: audit chain intact, findings re-hashed and match", style="green"))


@app.command("demo")
def demo_cmd(
    workdir: Annotated[Path, typer.Option("--workdir", help="Where demo evidence, hash sets and the case go.")] = Path(
        "demo-out"
    ),
) -> None:
    """Build benign demo evidence and a demo hash set, triage it, and print the summary."""
    from safenet.demo import run_demo

    with user_errors():
        run_demo(workdir, out)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: typer handles usage errors (exit 2); anything unexpected is exit 1, one line."""
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # a bug: say so plainly, no traceback for the officer
        err.print(
            Text(
                f"safenet: internal error: {exc.__class__.__name__}: {exc}. This is a bug; the case "
                "folder is still valid. Set SAFENET_DEBUG=1 for details.",
                style="bold red",
            )
        )
        if os.environ.get("SAFENET_DEBUG"):
            raise
        return Exit.INTERNAL
    return 0


def run() -> None:
    sys.exit(main())
