"""``safenet hashset import|build|list|remove``: the hash-set database (separate from cases)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from safenet.commands.common import Exit, HashDb, PdqThreshold, err, fail, out, store, user_errors
from safenet.evidence.locator import display_safe
from safenet.hashsets.model import DEFAULT_PDQ_THRESHOLD, HashKind, HashSetError, HashSetInfo, SetKind

if TYPE_CHECKING:  # numpy is not loaded to parse the command line
    from safenet.hashsets.blocks import BlockSetInfo

hashset_app = typer.Typer(help="Manage the hash-set database (separate from cases).", no_args_is_help=True)


@hashset_app.command("import")
def hashset_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="Hash-set file: VICS JSON, NSRL (v2 text / v3 SQLite), hashdeep, "
            "md5sum/sha1sum/sha256sum, BSD tags, a PDQ list, a vpdq feature file (one video), or a plain list."
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
        warnings = WarningLines()
        try:
            info = store(hashdb).import_file(
                path,
                name,
                kind=kind,
                format_name=format_name,
                scheme=scheme,
                scheme_file=scheme_file,
                replace=replace,
                pdq_threshold=pdq_threshold,
                warn=warnings,
            )
        except HashSetError:
            _print_warnings(warnings)  # a refusal that says "see the warnings" must show them
            raise
        _report_set("imported", info, warnings)


class WarningLines(list[str]):
    """Collects an import's or build's warnings as ``warn(ref, message)`` callbacks give them, one line each:
    ``ref: message``, or the message alone when a warning is about the whole file (``ref`` empty or None)."""

    def __call__(self, ref: str | None, message: str) -> None:
        self.append(f"{ref}: {message}" if ref else message)


def _print_warnings(warnings: list[str]) -> None:
    for line in warnings[:50]:
        err.print(Text("warning: ", style="yellow") + Text(display_safe(line)))
    if len(warnings) > 50:
        err.print(Text(f"warning: … and {len(warnings) - 50} more"))


def _report_set(verb: str, info: HashSetInfo, warnings: list[str]) -> None:
    _print_warnings(warnings)
    pdq = f", PDQ within {info.pdq_threshold}" if HashKind.PDQ in info.digests else ""
    out.print(
        Text(
            f"{verb} {info.name}: {info.entry_count:,} entries ({info.format}, {info.kind.value}, "
            f"scheme {info.scheme}{pdq}, SHA-256 {info.source_sha256})"
        )
    )


BlocksExclude = Annotated[
    list[str] | None,
    typer.Option("--blocks-exclude", help="Drop blocks found in this (known-good) set's block set (repeatable)."),
]


def _blocks(make: Callable[[WarningLines], BlockSetInfo]) -> None:
    """Build or import a block set, then print its warnings and what it holds."""
    warnings = WarningLines()
    built = make(warnings)
    _print_warnings(warnings)
    _report_blocks(built)


def _report_blocks(built: BlockSetInfo) -> None:
    out.print(
        Text(
            f"block set {built.name}: {built.files:,} files, {built.sampleable_files:,} sampleable, "
            f"{built.distinctive_blocks:,} distinctive 4 KiB blocks ({built.hash}; dropped: "
            f"{built.dropped_not_probative:,} not probative, {built.dropped_shared:,} shared between files, "
            f"{built.dropped_known_good:,} known-good)"
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
    blocks: Annotated[
        bool,
        typer.Option("--blocks", help="Also keep each file's distinctive 4 KiB block hashes, for `safenet sample`."),
    ] = False,
    blocks_exclude: BlocksExclude = None,
    hashdb: HashDb = None,
) -> None:
    """Build a hash set (MD5, SHA-1, SHA-256, PDQ) from a folder of reference images."""
    with user_errors():
        if not folder.is_dir():
            fail(Exit.HASHSET, f"{folder} does not exist or is not a folder; give the folder of reference images")
        warnings = WarningLines()
        info = store(hashdb).build_folder(
            folder,
            name,
            kind=kind,
            category=category,
            scheme=scheme,
            scheme_file=scheme_file,
            replace=replace,
            pdq_threshold=pdq_threshold,
            workers=workers,
            warn=warnings,
        )
        _report_set("built", info, warnings)
        if blocks:
            _blocks(
                lambda warn: store(hashdb).build_blocks(folder, name, exclude=tuple(blocks_exclude or ()), warn=warn)
            )


@hashset_app.command("import-blocks")
def hashset_import_blocks(
    path: Annotated[Path, typer.Argument(help="A DFXML file with 4 KiB byte-run MD5s (hashdb, bulk_extractor).")],
    name: Annotated[str, typer.Option("--name", help="Name of the block set (the hash set's name, if it has one).")],
    blocks_exclude: BlocksExclude = None,
    hashdb: HashDb = None,
) -> None:
    """Import a block set for `safenet sample` from DFXML byte-run hashes."""
    with user_errors():
        if not path.is_file():
            fail(Exit.HASHSET, f"{path} does not exist or is not a file; give the DFXML file to import")
        _blocks(lambda warn: store(hashdb).import_blocks(path, name, exclude=tuple(blocks_exclude or ()), warn=warn))


@hashset_app.command("list")
def hashset_list(hashdb: HashDb = None) -> None:
    """List the imported hash sets."""
    from rich.table import Table

    with user_errors():
        table = Table()
        table.add_column("Name", no_wrap=True)
        for heading in ("Kind", "Format", "Scheme", "Entries", "Hashes", "Imported (UTC)", "Source SHA-256"):
            table.add_column(heading, overflow="fold")
        for info in store(hashdb).list():
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
        store(hashdb).remove(name)
        out.print(Text(f"removed {name}"))
