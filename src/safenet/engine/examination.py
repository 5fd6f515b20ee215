"""An exhibit's items on their way through the workers, and such an examination begun before the case is open.

``Examination`` lists the exhibit (on a thread of its own where the back-end allows, ``engine.listing``), chooses
and starts the executor, and gives the workers' results in the order the items are recorded in. ``engine.triage``
takes the results and records them.

``Early`` begins that examination before the case is open: a triage command spends about a quarter of a second
loading SQLAlchemy and opening the case database, and the exhibit's first items are read and hashed meanwhile.
It is begun only for what may start without the case: a new run (a resume must read from the case what it has
recorded) of one folder (the command begins it for a folder alone; a live phone is never read before its run
and the authority relied on are recorded), on worker threads. Until the run is begun in the case, nothing is
written anywhere: results wait in memory (at most ``PREFETCH``; then the examination waits too), and what the
listing reports at its end is kept and handed over with them. The run's audit line is still written before any
of its items, so what the case records is what it always did. Where the case cannot be opened or the run is
refused (an exhibit label already used, another writer), the examination is discarded: the listing and the
workers stop and nothing read is kept. Such a refused run will have read (never written) some of the folder's
files, opened without updating their access times where the system allows (``evidence.directory``), with no
audit line saying so: the same as a run that was refused after opening its source always was, plus those reads.

Nothing here imports the case database (a test holds it to that).
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, closing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final

from safenet.case.records import WorkResult
from safenet.engine.executor_kind import ExecutorKind
from safenet.engine.executors import (
    Executor,
    StagePlan,
    Starting,
    WorkerSetup,
    choose,
    make_executor,
    run_ordered,
    warm_up,
)
from safenet.engine.listing import Listing, streams
from safenet.engine.ordering import order
from safenet.engine.preparing import Prepared, TriageOptions, prepare, with_digests
from safenet.engine.video import VIDEO_EXTENSIONS
from safenet.evidence.model import Evidence, EvidenceWarning, Item, SourceLost
from safenet.evidence.registry import DeviceAddress, Source

if TYPE_CHECKING:
    from safenet.hashsets.store import HashSetStore, Matcher

#: What the listing reports when it ends: the planned items' count and declared bytes, and its warnings.
Listed = Callable[[int, int, Sequence[EvidenceWarning]], None]

#: Most results an early examination takes before its run is begun in the case (then its workers wait).
PREFETCH: Final = 4096


class Examination:
    """The items of one exhibit listed, handed to an executor, and their results in recording order.

    Made in two steps, as a run needs them: the constructor lists the exhibit (or starts its listing thread)
    and chooses the executor; ``start`` starts it. ``results`` then gives one result per planned item; leaving
    the ``with`` block (or ``close``) cancels what was not taken and stops the workers.
    """

    def __init__(
        self,
        source: Source,
        evidence: Evidence,
        matcher: Matcher | None,
        options: TriageOptions,
        keep: Callable[[Item], bool] | None,
        listed: Listed,
    ) -> None:
        perceptual = bool(matcher and matcher.perceptual_sets)
        pdq = perceptual and options.profile.perceptual
        if choose(options.executor, options.workers, sys.maxsize, pdq) is ExecutorKind.PROCESSES:
            warm_up()  # worker processes may be wanted: start their server while the items are listed
        self.listing: Listing | None = None
        self.lost: SourceLost | None = None  # the source went away while listed whole (nothing planned)
        self.planned: list[Item] = []  # the items planned, where the exhibit was listed whole first
        self._stack = ExitStack()
        kind, whatever_listed = _first_choice(options, pdq)
        self._chunks: Iterator[Sequence[Item]]
        if streams(evidence) and whatever_listed:  # examine while the listing goes on
            self.listing = Listing(evidence, keep or _every, listed)
            self._chunks = self.listing.chunks()
        plan = StagePlan(options.profile, tuple(options.algorithms or ()), options.limits, perceptual)
        setup = WorkerSetup(source, plan, options.context, matcher.sources if matcher else ())
        self._make = partial(
            make_executor,
            workers=options.workers,
            evidence=evidence,
            matcher=matcher,
            setup=setup,
            cluster=options.cluster,
        )
        self._starting: Starting | None = None
        if self.listing is None:
            if whatever_listed and kind in (ExecutorKind.DASK, ExecutorKind.PROCESSES):
                self._starting = Starting(partial(self._make, kind))  # a cluster to connect to, a pool to start
            warnings: list[EvidenceWarning] = []
            try:
                found = list(evidence.items(warnings.append))
            except SourceLost as exc:  # nothing is planned; a resume lists the source again
                found, self.lost = [], exc
            except BaseException:
                if self._starting is not None:
                    self._starting.discard()
                raise
            self.planned = order(i for i in found if keep(i)) if keep else order(found)
            listed(len(self.planned), sum(i.size or 0 for i in self.planned), warnings)
            kind = choose(options.executor, options.workers, len(self.planned), pdq, _videos(self.planned))
            self._chunks = iter((self.planned,))
        self.kind = kind
        self.results: Iterator[WorkResult] = iter(())
        self._started = False
        self._before_close: Callable[[], None] | None = None  # an early examination: its thread is stopped first

    def start(self) -> None:
        """Start the executor: the results begin to come."""
        self._started = True
        try:
            executor = self._stack.enter_context(
                self._starting.get() if self._starting is not None else self._make(self.kind)
            )
            self.results = self._stack.enter_context(closing(_in_order(executor, self._chunks)))
        except BaseException:
            self._stack.close()
            raise

    def before_closing(self, hook: Callable[[], None]) -> None:
        """Have ``close`` run ``hook`` first (``Early``: its thread stops taking results before the workers stop)."""
        self._before_close = hook

    def close(self) -> None:
        """Cancel what was not taken and stop the workers (or the cluster client or pool, never started); once is
        enough, more is harmless."""
        if self._before_close is not None:
            self._before_close()
        self._stack.close()
        if self._starting is not None and not self._started:
            self._starting.discard()

    def __enter__(self) -> Examination:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def planned_count(self) -> int:
        """How many items are planned (known once the listing has ended)."""
        return self.listing.count if self.listing is not None else len(self.planned)


class Early:
    """A triage begun before its case is open: the source opened, the hash sets' matcher, the digests chosen, and
    (where it may start without the case) the examination under way, its results kept until ``attach``."""

    def __init__(self, prepared: Prepared, matcher: Matcher | None, options: TriageOptions) -> None:
        self.prepared, self.matcher, self.options = prepared, matcher, options
        self.examination: Examination | None = None
        self.matcher_taken = False  # the run has begun with this matcher (engine.triage.start), and closes it
        self._attached = threading.Event()
        self._kept: deque[WorkResult] = deque()
        self._error: BaseException | None = None
        self._ended = False
        self._report: tuple[int, int, Sequence[EvidenceWarning]] | None = None
        self._listed: Listed | None = None
        self._pump: threading.Thread | None = None

    def begin(self, examination: Examination) -> None:
        """Start ``examination`` (made with ``keep_report`` as its listing's report) and take its first results."""
        self.examination = examination
        examination.before_closing(self._stop)
        self._pump = threading.Thread(target=self._take, args=(examination,), name="safenet-early", daemon=True)
        self._pump.start()

    def _stop(self) -> None:
        """No more results taken on the early thread; wait for the one it is taking (at most one batch's work)."""
        self._attached.set()
        if self._pump is not None:
            self._pump.join()

    def keep_report(self, count: int, total_bytes: int, warnings: Sequence[EvidenceWarning]) -> None:
        """The listing's report: handed on once the run has attached (the early thread has ended by then, so this
        runs on the run's thread), else kept for it."""
        if self._listed is not None:
            self._listed(count, total_bytes, warnings)
        else:
            self._report = (count, total_bytes, warnings)

    def _take(self, examination: Examination) -> None:
        """On the early thread: take results until the run attaches or ``PREFETCH`` are kept."""
        try:
            examination.start()
            results = examination.results
            while not self._attached.is_set() and len(self._kept) < PREFETCH:
                try:
                    self._kept.append(next(results))
                except StopIteration:
                    self._ended = True
                    return
        except BaseException as exc:  # raised again where the run would have met it (after the kept results)
            self._error = exc

    def attach(self, listed: Listed) -> None:
        """The run is begun in the case: stop taking results here, hand over the listing's report if it came, and
        make the examination's ``results`` the kept ones, then the rest. The caller closes the examination
        (``Examination.close``), whether this returns or raises."""
        self._stop()
        self._listed = listed
        if self._report is not None:
            listed(*self._report)
            self._report = None
        if self.examination is not None:
            self.examination.results = self._results(self.examination.results)

    def _results(self, rest: Iterator[WorkResult]) -> Generator[WorkResult, None, None]:
        kept = self._kept
        while kept:
            yield kept.popleft()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if not self._ended:
            yield from rest

    def discard(self) -> None:
        """Called whatever became of the run: what it did not take is closed (the case could not be opened, the run
        was refused). The workers stop, the listing stops, nothing read is kept, and the matcher is closed unless
        the run began with it. A failure while closing is not raised: the run's own outcome or error stands."""
        try:
            if self.examination is not None:
                if self.examination.listing is not None and not self.matcher_taken:
                    self.examination.listing.stop()  # a refused run: no need to list the rest
                self.examination.close()
        except Exception:  # noqa: S110 - cleanup of an examination nobody takes; never hides the run's error
            pass
        finally:
            if self.matcher is not None and not self.matcher_taken:
                self.matcher_taken = True
                self.matcher.close()


def begin_early(source: Source, case_path: Path, store: HashSetStore | None, options: TriageOptions) -> Early:
    """Prepare a new run of one exhibit (``preparing.prepare``), open its hash sets and, where it may start without
    the case, begin examining it (see the module docstring)."""
    prepared = prepare(source, case_path, store, options)
    matcher = store.matcher(options.hashsets) if store is not None and options.hashsets else None
    try:
        options = with_digests(options, matcher)
        early = Early(prepared, matcher, options)
        if _may_begin(source, prepared.evidence, matcher, options):
            early.begin(Examination(source, prepared.evidence, matcher, options, None, early.keep_report))
        return early
    except BaseException:
        if matcher is not None:
            matcher.close()
        raise


def _may_begin(source: Source, evidence: Evidence, matcher: Matcher | None, options: TriageOptions) -> bool:
    """Whether the examination may begin before the case is open: a new run, of evidence listed while read, on
    threads, and not a live device (a phone is not read before its run and authority are recorded)."""
    if options.resume or isinstance(source, DeviceAddress) or not streams(evidence):
        return False
    kind, whatever_listed = _first_choice(
        options, bool(matcher and matcher.perceptual_sets) and options.profile.perceptual
    )
    return kind is ExecutorKind.THREADS and whatever_listed


def _first_choice(options: TriageOptions, pdq: bool) -> tuple[ExecutorKind, bool]:
    """The executor chosen before anything is listed, and whether it is the one chosen however many items are
    listed (then the examination need not wait for the listing: it begins while the listing goes on)."""
    kind = choose(options.executor, options.workers, 0, pdq)
    return kind, kind is choose(options.executor, options.workers, sys.maxsize, pdq, sys.maxsize)


def _videos(items: Sequence[Item]) -> int:
    """How many planned items are named like videos (a guess for ``choose``: types are known only once read)."""
    return sum(1 for i in items if i.name.rpartition(".")[2].lower() in VIDEO_EXTENSIONS)


def _every(item: Item) -> bool:
    return True


def _in_order(executor: Executor, chunks: Iterator[Sequence[Item]]) -> Generator[WorkResult, None, None]:
    """Every chunk's results in order, one chunk after the other (closing this cancels what was not taken)."""
    for chunk in chunks:
        with closing(run_ordered(executor, chunk)) as results:
            yield from results
