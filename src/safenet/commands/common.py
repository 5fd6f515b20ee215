"""What every command shares: exit codes, the two consoles, one-sentence errors, common options.

Exit codes (documented in the README; tests check them):
  0  success                      3  evidence path missing or unreadable
  1  internal error (a bug)       4  a hash-set file or name is wrong
  2  usage error (bad option)     5  case folder problem (not a case, in use, already triaged, nothing to resume)
  6  verification failed          7  the case folder's disk is full; free space, finish with --resume
  130 interrupted (Ctrl-C); the case stays valid, finish with --resume
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from safenet.evidence.locator import display_safe
from safenet.hashsets.model import MAX_PDQ_THRESHOLD
from safenet.installation import data_dir

# What a command does is imported when it runs: parsing the command line (``--help``, ``--version``) loads
# only Typer, Rich and the light modules naming option types, so the CLI starts in a tenth of a second.
if TYPE_CHECKING:
    from safenet.evidence.model import OpenContext
    from safenet.hashsets.store import HashSetStore


class Exit:
    OK = 0
    INTERNAL = 1
    USAGE = 2
    EVIDENCE = 3
    HASHSET = 4
    CASE = 5
    VERIFY_FAILED = 6
    DISK_FULL = 7
    INTERRUPTED = 130


out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def default_hashdb() -> Path:
    return data_dir() / "hashsets"


HashDb = Annotated[
    Path | None,
    typer.Option(
        "--hashdb",
        envvar="SAFENET_HASHDB",
        help="Hash-set database folder (default: ~/.local/share/safenet/hashsets).",
    ),
]


def store(hashdb: Path | None) -> HashSetStore:
    from safenet.hashsets.store import HashSetStore

    return HashSetStore(hashdb or default_hashdb())


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


def open_context(
    password: str | None, recovery: str | None, keys: Path | None, partitions: list[str] | None
) -> OpenContext:
    from safenet.evidence.model import Credential, CredentialKind, OpenContext

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


def parse_labelled(args: list[str]) -> list[tuple[str, str]]:
    """``EX1=/dev/sdb`` pairs, as given (a lone source without a label is exhibit "EX1" when it is the only one);
    a ValueError says what is wrong. Used by every command that takes several devices at once."""
    pairs = []
    for number, arg in enumerate(args, 1):
        label, sep, path = arg.partition("=")
        if not sep:
            if len(args) > 1:
                raise ValueError(f"{arg!r}: with several devices give each as LABEL=PATH, e.g. EX{number}={arg}")
            label, path = "EX1", arg
        if not label or not path or "/" in label:
            raise ValueError(f"{arg!r} is not LABEL=PATH, e.g. EX1=/dev/sdb")
        pairs.append((label, path))
    labels = [label for label, _ in pairs]
    if len(set(labels)) != len(labels):
        raise ValueError("each device needs its own exhibit label")
    return pairs


def fail(code: int, message: str) -> NoReturn:
    err.print(Text("safenet: error: ", style="bold red") + Text(display_safe(message)))
    raise typer.Exit(code)


def _exit_code(exc: Exception) -> int | None:
    """The exit code of a failure the user can act on, else None (a bug, or a full disk found another way).

    The error types are imported here, once one is raised, not before the command runs: the case store's loads
    SQLAlchemy, which a triage loads only once it has begun examining (``engine.examination``). An error of a
    type whose module is not loaded yet cannot have been raised, so the answer is the same."""
    from safenet.case.audit import AuditError
    from safenet.case.signing import SigningKeyError
    from safenet.case.store import CaseError, DiskFullError
    from safenet.engine.preparing import OptionsError, TriageError
    from safenet.evidence.model import EvidenceError
    from safenet.evidence.registry import SourceNotFound
    from safenet.hashsets.model import HashSetError

    if isinstance(exc, DiskFullError):
        return Exit.DISK_FULL
    if isinstance(exc, SourceNotFound | EvidenceError):
        return Exit.EVIDENCE
    if isinstance(exc, HashSetError):
        return Exit.HASHSET
    if isinstance(exc, OptionsError):
        return Exit.USAGE
    if isinstance(exc, CaseError | TriageError | AuditError | SigningKeyError):
        return Exit.CASE
    return None


@contextmanager
def user_errors(case: Path | None = None) -> Iterator[None]:
    """Map the three failure kinds to one sentence and a documented exit code; never a traceback.

    ``case``: the case folder the command writes, named when its disk fills up.
    """
    try:
        yield
    except typer.Exit:  # fail() inside the block: already said
        raise
    except Exception as exc:
        code = _exit_code(exc)
        if code is not None:
            fail(code, str(exc))
        from safenet.case.store import DiskFullError, is_disk_full

        if is_disk_full(exc):  # from a write anywhere below: the case stays valid up to its last commit
            fail(Exit.DISK_FULL, str(DiskFullError(case or Path("."))))
        raise
    except KeyboardInterrupt:
        fail(
            Exit.INTERRUPTED,
            "interrupted; the case stays valid and `safenet triage --resume` finishes the run",
        )
