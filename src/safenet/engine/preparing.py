"""What a triage settles before its case is open: its options, checked, and the exhibit's source, opened.

Why apart from ``engine.triage``: nothing here needs the case database, so a triage can open its evidence and
begin examining it (``engine.examination.Early``) while the command still loads SQLAlchemy and opens the case.
Nothing here writes anywhere; the run, its exhibit and its audit line are begun by ``engine.triage.start``.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from safenet.case.casefields import FieldError, check_fields
from safenet.engine.cluster import ClusterTarget
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.evidence.archive import ArchiveLimits
from safenet.evidence.model import Evidence, EvidenceDescription, OpenContext
from safenet.evidence.registry import DeviceAddress, Source, open_source
from safenet.hashsets.model import HashKind, HashSetInfo

if TYPE_CHECKING:
    from safenet.hashsets.store import HashSetStore, Matcher


class TriageError(Exception):
    """The triage cannot start as asked; the message says what to do instead."""


class OptionsError(TriageError):
    """The options contradict each other or the selected hash sets (a usage error)."""


@dataclass(frozen=True, slots=True)
class TriageOptions:
    exhibit: str
    profile: Profile = Profile.QUICK
    algorithms: tuple[str, ...] | None = None  # None: the profile's choice for the selected sets (Profile.digests)
    hashsets: tuple[str, ...] = ()
    stop_at_first_hit: bool = False
    resume: bool = False
    operator: str = field(default_factory=getpass.getuser)
    workers: int = 2
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    batch_items: int = 2000  # with batch_seconds: each commit costs an audit line (a signed head, an fsync)
    batch_seconds: float = 1.0
    context: OpenContext = field(default_factory=OpenContext)  # credentials are never recorded
    verify_image: bool = False  # hash the image's media data (E01: compare with its stored hash)
    executor: ExecutorKind | None = None  # None: chosen by workers, items and PDQ work (executors.choose)
    authority: str | None = None  # the power relied on (warrant reference): the exhibit's "authority" field
    cluster: ClusterTarget | None = None  # a Dask scheduler to examine on (executor dask); None: this machine


def check_apart(source: Source, case_path: Path) -> None:
    """Refuse a case folder inside the evidence (its own files would become items, and writing there changes
    the evidence), or evidence inside the case folder. A live device is apart by nature."""
    if isinstance(source, DeviceAddress):
        return
    evidence, case_dir = source.resolve(), case_path.resolve()
    if case_dir == evidence or case_dir.is_relative_to(evidence):
        raise OptionsError(
            f"the case folder {case_path} is inside the evidence {source}; put the case on another disk or folder"
        )
    if evidence.is_relative_to(case_dir):
        raise OptionsError(f"the evidence {source} is inside the case folder {case_path}; keep them apart")


@dataclass(frozen=True, slots=True)
class Prepared:
    """An exhibit's source opened and described, before anything is written to the case."""

    source: Source
    evidence: Evidence
    description: EvidenceDescription
    authority: str | None
    image_hashes: dict[str, object] | None
    started: float  # time.monotonic() once the source was open


def check_options(store: HashSetStore | None, options: TriageOptions) -> str | None:
    """Refuse options that contradict each other or the sets (OptionsError), before anything is recorded;
    returns the ``--authority`` value as it will be stored."""
    authority = _authority(options)
    if (options.executor is ExecutorKind.DASK) != (options.cluster is not None):
        raise OptionsError("--cluster and the dask executor go together: give --cluster tcp://HOST:PORT alone")
    if options.algorithms is not None and store is not None and not options.resume:
        blind = _unmatchable([store.get(name) for name in options.hashsets], options.algorithms)
        if blind:
            raise OptionsError(blind)
    return authority


def prepare(source: Source, case_path: Path, store: HashSetStore | None, options: TriageOptions) -> Prepared:
    """Check the options and open the source; nothing is written to the case yet (it need not be open)."""
    check_apart(source, case_path)
    authority = check_options(store, options)  # refused before anything is recorded
    evidence = open_source(source, replace(options.context, unallocated=options.profile is Profile.FULL))
    description = evidence.describe()
    started = time.monotonic()
    image_hashes = _image_hashes(evidence) if options.verify_image else None
    return Prepared(source, evidence, description, authority, image_hashes, started)


def _authority(options: TriageOptions) -> str | None:
    """The ``--authority`` value as it will be stored, checked like ``safenet case set`` checks it."""
    if options.authority is None:
        return None
    try:
        return check_fields({"authority": options.authority}, exhibit=True)["authority"]
    except FieldError as exc:
        raise OptionsError(f"--authority: {exc}") from exc


def with_digests(options: TriageOptions, matcher: Matcher | None) -> TriageOptions:
    """``options`` with the digests the run computes: those asked for, else the profile's choice for the kinds the
    selected sets hold (``Profile.digests``)."""
    if options.algorithms is not None:
        return options
    needed = [kind.value for s in (matcher.sets if matcher else ()) for kind in _item_kinds(s)]
    return replace(options, algorithms=options.profile.digests(needed))


def _item_kinds(info: HashSetInfo) -> tuple[HashKind, ...]:
    """The digest kinds items must be hashed with to match a set. A set built from reference files
    (``hashset build``) holds MD5 for every entry, so its ED2K (kept for matching P2P clients' records, which
    name files by ED2K alone) adds nothing for items and is not computed for them."""
    if info.format == "folder":
        return tuple(kind for kind in info.digests if kind is not HashKind.ED2K)
    return tuple(info.digests)


def _unmatchable(sets: Sequence[HashSetInfo], algorithms: Sequence[str]) -> str | None:
    """Why a selected set could never match with these digests (it holds none of them), else None."""
    for info in sets:
        held = [kind.value for kind in info.digests if kind.exact and kind.of_files]
        if held and not set(held) & set(algorithms):
            return f"hash set {info.name} holds {', '.join(held)} digests, which --digests leaves out; add {held[0]}"
    return None


def _image_hashes(evidence: Evidence) -> dict[str, object]:
    """Hash the image's media data (for E01, compared with its stored hash); recorded in the audit."""
    from safenet.evidence.image import ImageEvidence
    from safenet.evidence.image.integrity import hash_media

    if not isinstance(evidence, ImageEvidence) or evidence.image_format is None:
        raise TriageError("--verify-image needs a disk image or device as the source")
    return hash_media(str(evidence.path), evidence.image_format).as_dict()
