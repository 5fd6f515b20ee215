"""Where the examine stage runs: in-process, on threads, or in worker processes (docs/architecture.md, executors).

The stage is the same everywhere: ``Stage.run`` examines a batch of top-level items from one open
evidence source and returns plain, picklable ``WorkResult`` s. What differs is where the stage lives:

- ``inline`` — in the calling thread, one item at a time (debugging, one worker).
- ``threads`` — a thread pool sharing the caller's open evidence and matcher. hashlib releases the GIL,
  so digests of large files use every core; PDQ hashing and all per-item Python work do not.
- ``processes`` — a process pool (``forkserver`` where the platform has it, else ``spawn``: never ``fork``,
  the parent holds SQLite connections and threads). Each worker opens its own stage once, in the pool
  initializer, from a ``WorkerSetup``: plain data (the source path, the ``OpenContext`` — credentials travel
  in memory and pipes only, never to disk or logs — the stage plan and the matcher's catalog entries, whose
  arrays are memory-mapped). Tasks are batches of ``Item`` s, which carry their locators, never handles.

- ``dask`` — a Dask distributed cluster (``engine.dask_executor``): the same seam, ``open_stage(setup)`` once
  per Dask worker (a worker plugin), then ``Stage.run(batch)`` per task; ``run_ordered`` does not care where a
  future comes from, and a task that killed its workers comes back as lost like a dead process's.

State machine of one batch of planned items (``run_ordered``):

    planned ─▶ submitted ─▶ done ─▶ taken (yielded in planned order; the caller records it)
                  │
                  ├─▶ cancelled (stop at first hit, interrupt): never recorded; a resume examines it
                  └─▶ lost (a worker process died, e.g. a native decoder crashed on hostile input):
                        the pool is restarted and every item of every lost batch is quarantined:
                        resubmitted alone, one at a time, so a crash names exactly one item
                        ─▶ done ─▶ taken, or ─▶ lost again ─▶ hashed: its bytes read and digested, alone,
                           with nothing decoded (so a file that crashes a decoder still matches exactly)
                           ─▶ done ─▶ taken as a ``worker-crashed`` result with its digests, or
                           ─▶ lost a third time (the reading itself crashes) ─▶ taken as a
                              ``worker-crashed`` result without digests (an unreadable record)
                        every ``worker-crashed`` result carries a warning with the item's locator

On worker processes and Dask, a region larger than ``split.SPLIT_BYTES`` is planned as byte ranges, one task
each (``engine.split``): their results are merged back into the region's one result, in order, exactly as an
unsplit carve records it (a range whose carves could differ is carved again, at the head of the window, with
the true scan state). A range that dies alone is not hashed bytes-only: it becomes a ``worker-crashed`` warning
naming the region and its byte range, and the other ranges' finds are kept.

Long videos likewise: every video is examined as fixed time segments wherever it runs (``analysis.video.hasher``);
on worker processes and Dask (``StagePlan.split_videos``) the worker examining a top-level video of several
segments leaves its frames pending, and its segments are run as tasks of their own and merged back under its one
record, in order, exactly as a worker merges them (``engine.videosplit``). A segment that dies alone becomes a
``worker-crashed`` warning naming the video and its time range, and the other segments' frames are kept.

Results already taken are never lost: the caller records them as they come.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import ClassVar, Final

from safenet import collector
from safenet.analysis.filetype import UNKNOWN
from safenet.analysis.md5mb import ISA as MD5_ISA
from safenet.analysis.md5mb import Md5Batch
from safenet.analysis.video import model as video_model
from safenet.case.records import ItemRecord, ItemStatus, WorkResult
from safenet.engine import split
from safenet.engine.cluster import ClusterTarget
from safenet.engine.executor_kind import ExecutorKind as ExecutorKind  # re-exported: its old home
from safenet.engine.perceptual import perceptual_work
from safenet.engine.pipeline import Settings, defers_md5, examine, hash_bytes
from safenet.engine.profiles import Profile
from safenet.engine.split import Outcome, RegionRange, Rejoin, Splitting, Unit, plan
from safenet.engine.video import VideoWork
from safenet.engine.videosplit import VideoSegment, VideoSplitting, examine_segment
from safenet.evidence.archive import ArchiveLimits
from safenet.evidence.locator import Locator
from safenet.evidence.model import Evidence, EvidenceError, EvidenceWarning, GivesReadingHints, Item, OpenContext
from safenet.evidence.producers import Carving
from safenet.evidence.registry import Source, open_locator, open_sibling, open_source
from safenet.hashsets.catalog import StoredSet
from safenet.hashsets.matcher import Matcher
from safenet.reasons import reason_of

CRASH_CODE: Final = "worker-crashed"
PROCESS_BATCH_ITEMS: Final = 64  # items per task: amortises pickling and pipe round trips for tiny files
PROCESS_BATCH_BYTES: Final = 16 << 20  # ... but a batch of big files is split so both workers stay busy
PROCESSES_FROM_ITEMS: Final = 400  # below this, starting the pool (~0.65 s) costs more than PDQ in it saves
VIDEO_WEIGHT: Final = 20  # PDQ-like items one video counts as in ``choose`` (a short clip: ~20 frames hashed)
MAX_CRASHES_IN_A_ROW: Final = 16  # then the workers themselves are broken (memory?), not one item


class ExecutorError(EvidenceError):
    """Worker processes could not start or keep dying; the message says what to do instead."""


def choose(
    requested: ExecutorKind | None, workers: int, planned: int, perceptual: bool, videos: int = 0
) -> ExecutorKind:
    """The executor for a run: the one asked for, else processes only where the GIL is what limits.

    Measured with bench/bench_executors.py (2 workers, 2 shared cores): PDQ holds the GIL, so 2 000 small
    JPEGs with a PDQ set ran at 347 items/s in processes against 209 on threads (1.66x); without PDQ
    (5 900 vs 1 800 items/s) and for digests of 400 MB (2 400 vs 1 600 items/s) threads won: the main
    thread recording the case is the limit there, hashlib releases the GIL, and the pool's start (~0.65 s:
    the fork server imports the CLI and the stage once) is not paid back. Break-even with PDQ: ~350 items.

    ``videos`` (planned items named like videos) count as ``VIDEO_WEIGHT`` items each when there is PDQ
    work: PyAV releases the GIL while decoding, but every sampled frame's conversion and PDQ hold it, so a
    video is PDQ work many times over. The weight is an estimate, not yet measured by the bench.
    """
    if requested is not None:
        return requested
    if workers <= 1:
        return ExecutorKind.INLINE
    if perceptual and planned + (VIDEO_WEIGHT - 1) * videos >= PROCESSES_FROM_ITEMS:
        return ExecutorKind.PROCESSES
    return ExecutorKind.THREADS


# --- the stage: the same work wherever it runs ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StagePlan:
    """What examining needs besides the items; plain data, the same for every task of a run."""

    profile: Profile
    algorithms: tuple[str, ...]
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    perceptual: bool = False  # a selected set holds PDQ hashes: images no exact match settles get one
    #: Videos are examined as segments of this many seconds (read when the plan is made: tests turn it down).
    video_segment_s: float = field(default_factory=lambda: video_model.SEGMENT_S)
    split_videos: bool = False  # a top-level video of several segments is left to segment tasks (parallel executors)


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """Everything a worker opens once, as plain data (picklable; docs/architecture.md: locators, not handles)."""

    source: Source
    plan: StagePlan
    context: OpenContext = field(default_factory=OpenContext, repr=False)  # credentials: never on disk or in logs
    matcher: tuple[tuple[StoredSet, Path], ...] = ()  # the sets' catalog entries and array folders
    #: Where the device servers are, as this process sees them (``DEVICE_ENVIRONMENT``): worker processes come from
    #: a fork server started once per process, whose environment may be older than this run's.
    environment: tuple[tuple[str, str], ...] = field(default_factory=lambda: device_environment())


#: The settings a live-device back-end reads from the environment: the adb server's address, usbmuxd's socket.
DEVICE_ENVIRONMENT = ("ANDROID_ADB_SERVER_HOST", "ANDROID_ADB_SERVER_PORT", "USBMUXD_SOCKET_ADDRESS")


def device_environment() -> tuple[tuple[str, str], ...]:
    return tuple((name, os.environ[name]) for name in DEVICE_ENVIRONMENT if name in os.environ)


class Stage:
    """Examines batches of top-level items from one open evidence source."""

    def __init__(self, evidence: Evidence, settings: Settings) -> None:
        self.evidence, self.settings = evidence, settings

    def run(self, batch: Sequence[Unit]) -> list[Outcome]:
        # Small files' MD5s are hashed together when the batch ends, in SIMD lanes (analysis.md5mb); with
        # hashlib's MD5 (the extension not built) there is nothing to gain by waiting.
        md5 = Md5Batch() if len(batch) > 1 and MD5_ISA != "hashlib" and defers_md5(self.settings) else None
        results = [self._examine(unit, md5) for unit in batch]
        if md5 is not None:
            md5.finish()
        return results

    def _examine(self, unit: Unit, md5: Md5Batch | None) -> Outcome:
        if isinstance(unit, VideoSegment):  # one time segment of a long video: its frame hashes
            return examine_segment(unit, partial(open_locator, self.evidence, unit.item.locator))
        if isinstance(unit, RegionRange):  # one byte range of a split region: its carves under the region
            settings = replace(self.settings, carve=unit.limits(self.settings.carve))
            return examine(unit.region, partial(open_locator, self.evidence, unit.region.locator), settings)
        return examine(
            unit,
            partial(open_locator, self.evidence, unit.locator),
            self.settings,
            partial(open_sibling, self.evidence, unit.locator),
            md5,
        )

    def adopt(self, hints: ReadingHints) -> None:
        """Take a task's reading hints from the process that listed the evidence (``reading_hints``)."""
        if hints and isinstance(self.evidence, GivesReadingHints):
            for locator, hint in hints:
                self.evidence.take_reading_hint(locator, hint)

    def run_bytes_only(self, batch: Sequence[Unit]) -> list[Outcome]:
        """Digests of each item's bytes, nothing decoded: for items whose examination killed a worker."""
        return [
            hash_bytes(item, partial(open_locator, self.evidence, item.locator), self.settings.algorithms)
            for item in _items_only(batch)
        ]


#: How to read a task's items, as the process that listed the evidence learnt it: (an item's locator, its hint).
ReadingHints = tuple[tuple[Locator, object], ...]


def reading_hints(evidence: Evidence | None, batch: Sequence[Unit]) -> ReadingHints:
    """What a worker that did not list ``evidence`` needs to read ``batch``'s items as the listing process would
    (``GivesReadingHints``: a disk image's file extents and regions' runs); () for other back-ends."""
    if evidence is None or not isinstance(evidence, GivesReadingHints):
        return ()
    hints: dict[Locator, object] = {}  # once per item (several ranges or segments of one item share it)
    for unit in batch:
        item = unit.region if isinstance(unit, RegionRange) else unit if isinstance(unit, Item) else unit.item
        if item.locator not in hints and (hint := evidence.reading_hint(item.locator)) is not None:
            hints[item.locator] = hint
    return tuple(hints.items())


def _items_only(batch: Sequence[Unit]) -> list[Item]:
    if not all(isinstance(unit, Item) for unit in batch):  # run_ordered never hashes a range bytes-only
        raise TypeError("a region's byte range or a video's segment has no bytes of its own to hash")
    return [unit for unit in batch if isinstance(unit, Item)]


def splitting_for(plan: StagePlan) -> Splitting | None:
    """How a parallel executor splits this run's large regions: only where the profile carves them."""
    if Carving.NAME not in plan.profile.producers:
        return None
    return Splitting(
        Settings(plan.profile, plan.algorithms, plan.limits).carve, split.SPLIT_BYTES
    )  # read per run: tests turn it down


def settings_for(plan: StagePlan, matcher: Matcher | None) -> Settings:
    work = perceptual_work(matcher, wanted=plan.perceptual) if plan.perceptual else None
    video = (
        VideoWork.for_profile(plan.profile, work.settled, plan.video_segment_s, plan.split_videos)
        if work is not None
        else None
    )
    return Settings(plan.profile, plan.algorithms, plan.limits, work, video)


def open_stage(setup: WorkerSetup) -> Stage:
    """A worker's own stage: evidence opened with the same context, its own read-only matcher."""
    evidence = open_source(setup.source, setup.context)
    matcher = Matcher(setup.matcher, perceptual=False) if setup.matcher else None
    return Stage(evidence, settings_for(setup.plan, matcher))


def crashed(item: Item, hashed: WorkResult | None = None) -> WorkResult:
    """What is recorded for an item whose examination killed its worker process: never a silent skip.

    ``hashed``: the item's digests from a read with nothing decoded, when that read did not crash too.
    """
    message = "the worker process examining this item died twice (a decoder crash on damaged or hostile data?)"
    if hashed is None:
        message += "; reading its bytes alone crashed too: no digests"
        record = ItemRecord(item, UNKNOWN, ItemStatus.UNREADABLE, None, False)
        return WorkResult((record,), (EvidenceWarning(CRASH_CODE, message, item.locator),), 0)
    message += "; its bytes were hashed with nothing decoded (exact matching only, nothing inside it examined)"
    return WorkResult(
        hashed.records, (EvidenceWarning(CRASH_CODE, message, item.locator), *hashed.warnings), hashed.bytes_read
    )


def crashed_range(part: RegionRange) -> EvidenceWarning:
    """What is recorded for a byte range of a split region whose carving killed its worker twice."""
    span = part.span
    message = (
        f"the worker process carving bytes {span.start:,} to {span.stop:,} of this region died twice (a decoder "
        "crash on damaged or hostile data?); files starting in that range are not recorded (the other ranges' "
        "are)"
    )
    return EvidenceWarning(CRASH_CODE, message, part.region.locator)


def video_splitting_for(plan: StagePlan) -> VideoSplitting:
    """How a parallel executor merges the segments of the videos its workers leave pending."""
    return VideoSplitting(VideoWork.for_profile(plan.profile, lambda _digests: False, plan.video_segment_s))


def crashed_segment(part: VideoSegment) -> EvidenceWarning:
    """What is recorded for a time segment of a long video whose hashing killed its worker twice."""
    message = (
        f"the worker process hashing {part.label()} of this video died twice (a decoder crash on damaged "
        "or hostile data?); that segment's frames are not recorded (the other segments' are)"
    )
    return EvidenceWarning(CRASH_CODE, message, part.item.locator)


# --- executors ------------------------------------------------------------------------------------------


class Executor(ABC):
    """Runs stage batches somewhere and hands back futures of plain results."""

    NAME: ClassVar[ExecutorKind]
    batch_items: int = 1  # most items in one task
    batch_bytes: int = 0  # most bytes (declared sizes) in one task of several items; 0: no limit
    in_flight: int = 1  # most tasks submitted and not yet taken
    splitting: Splitting | None = None  # large regions carved as byte ranges (parallel executors); None: never
    videos: VideoSplitting | None = None  # merges long videos' segment tasks (parallel executors); None: never

    @abstractmethod
    def submit(self, batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        """Run ``Stage.run`` on ``batch`` (``bytes_only``: ``Stage.run_bytes_only``) somewhere."""

    def lost(self, error: BaseException) -> bool:
        """Whether ``error`` from a future means its worker died (and the executor must ``restart``)."""
        return False

    def restart(self) -> None:  # pragma: no cover - only executors whose ``lost`` can be true restart
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - nothing to release for in-process executors
        pass

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineExecutor(Executor):
    NAME = ExecutorKind.INLINE

    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def submit(self, batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        future: Future[list[Outcome]] = Future()
        run = self.stage.run_bytes_only if bytes_only else self.stage.run
        future.set_result(run(batch))  # an exception (a bug) propagates at once, as it would inline
        return future


class ThreadExecutor(Executor):
    NAME = ExecutorKind.THREADS
    # Small files in small groups: one future per file cost more main-thread time than hashing a 100 KB photo.
    batch_items = 16
    batch_bytes = 8 << 20

    def __init__(self, stage: Stage, workers: int) -> None:
        self.stage = stage
        self.in_flight = 8 * workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="examine")

    def submit(self, batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        return self._pool.submit(self.stage.run_bytes_only if bytes_only else self.stage.run, batch)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class ProcessExecutor(Executor):
    NAME = ExecutorKind.PROCESSES
    batch_items = PROCESS_BATCH_ITEMS
    batch_bytes = PROCESS_BATCH_BYTES

    def __init__(
        self,
        setup: WorkerSetup,
        workers: int,
        factory: Callable[[WorkerSetup], Stage] = open_stage,
        evidence: Evidence | None = None,
    ) -> None:
        """``factory`` (a module-level function: it is pickled by name) opens each worker's stage; ``evidence``,
        the caller's listed evidence, hands the workers how to read each task's items (``reading_hints``)."""
        setup = replace(setup, plan=replace(setup.plan, split_videos=True))  # segments spread over the workers
        self.setup, self.workers, self.factory, self.evidence = setup, workers, factory, evidence
        self.in_flight = 3 * workers
        self.splitting = splitting_for(setup.plan)
        self.videos = video_splitting_for(setup.plan)
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        """A new pool, proven able to run an empty task: a worker that dies later died of its batch."""
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=_context(),
            initializer=_start_worker,
            initargs=(self.factory, self.setup),
        )
        try:
            pool.submit(_run_batch, ()).result()
        except BrokenProcessPool as exc:
            pool.shutdown(wait=True, cancel_futures=True)
            raise ExecutorError("worker processes could not start; try --executor threads") from exc
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        return pool

    def submit(self, batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        try:
            return self._pool.submit(_run_batch, tuple(batch), bytes_only, reading_hints(self.evidence, batch))
        except BrokenProcessPool as exc:  # a worker died since the last result: lost like those in flight
            future: Future[list[Outcome]] = Future()
            future.set_exception(exc)
            return future

    def lost(self, error: BaseException) -> bool:
        return isinstance(error, BrokenProcessPool)

    def restart(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._start()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one (Linux), else spawn; never fork (see the module docstring)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if context.get_start_method() == "forkserver":
        # the server imports the stage and the main module (the CLI: ~0.7 s) once; workers fork from it
        context.set_forkserver_preload(["__main__", __name__])
    return context


def warm_up() -> None:
    """Start the fork server in the background, so its imports overlap the caller's enumeration."""
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        threading.Thread(target=forkserver.ensure_running, daemon=True, name="forkserver-start").start()


class Starting:
    """An executor made on a thread of its own while the caller lists the evidence: a Dask client connecting and
    registering its worker plugin, or a process pool starting, takes about half a second (a coordinator's py-spy
    timeline), much of the time a disk image of 20 000 files takes to list, and neither needs the listing."""

    def __init__(self, make: Callable[[], Executor]) -> None:
        self._made: Future[Executor] = Future()
        # Not a daemon: an executor discarded while it was being made is closed on this thread once made (a Dask
        # client unregisters its worker plugin, which holds the run's credentials), and the process waits for it.
        threading.Thread(target=self._make, args=(make,), name="executor-start").start()

    def _make(self, make: Callable[[], Executor]) -> None:
        try:
            self._made.set_result(make())
        except BaseException as exc:  # ExecutorError (the cluster is unreachable ...): raised by get()
            self._made.set_exception(exc)

    def get(self) -> Executor:
        """The executor, once made; what making it raised."""
        return self._made.result()

    def discard(self) -> None:
        """The run will not use it (the listing failed, Ctrl-C): close it once made, without waiting for that
        (a cluster may take a minute to answer); an error making it is moot."""
        self._made.add_done_callback(_close_made)


def _close_made(made: Future[Executor]) -> None:
    if made.exception() is None:
        made.result().close()


def make_executor(
    kind: ExecutorKind,
    workers: int,
    evidence: Evidence,
    matcher: Matcher | None,
    setup: WorkerSetup,
    cluster: ClusterTarget | None = None,
) -> Executor:
    """Threads and inline share the caller's open evidence and matcher; processes and Dask workers open their own."""
    if kind is ExecutorKind.DASK:
        if cluster is None:
            raise ExecutorError("the dask executor needs --cluster tcp://HOST:PORT (the Dask scheduler)")
        from safenet.engine.dask_executor import DaskExecutor  # Dask is imported only for a cluster run

        return DaskExecutor.for_run(cluster, setup, evidence)
    if kind is ExecutorKind.PROCESSES:
        return ProcessExecutor(setup, workers, factory=open_stage, evidence=evidence)
    stage = Stage(evidence, settings_for(setup.plan, matcher))
    return InlineExecutor(stage) if kind is ExecutorKind.INLINE else ThreadExecutor(stage, workers)


# --- the worker process side ----------------------------------------------------------------------------

_stage: Stage | None = None  # this worker process's stage, opened once by the pool initializer
_setup_error: str | None = None


def _start_worker(factory: Callable[[WorkerSetup], Stage], setup: WorkerSetup) -> None:
    """Pool initializer: ignore Ctrl-C (the parent decides), die with the parent, collect garbage as the console
    does (``safenet.collector``: the per-item work runs here), open the stage once."""
    global _stage, _setup_error
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collector.collect_less()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True, name="parent-watch").start()
    for name in DEVICE_ENVIRONMENT:  # this run's device servers, not the fork server's (see WorkerSetup)
        os.environ.pop(name, None)
    os.environ.update(dict(setup.environment))
    try:
        _stage = factory(setup)
    except Exception as exc:  # reported by every task as an ExecutorError, not as a dead pool
        _setup_error = f"{exc.__class__.__name__}: {reason_of(exc)}"


def _exit_with(sentinel: int) -> None:
    """A worker whose parent was killed (SIGKILL) would wait for tasks forever; end it instead."""
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _run_batch(batch: tuple[Unit, ...], bytes_only: bool = False, hints: ReadingHints = ()) -> list[Outcome]:
    if _stage is None:
        raise ExecutorError(f"a worker process could not open the evidence ({_setup_error}); try --executor threads")
    _stage.adopt(hints)
    return _stage.run_bytes_only(batch) if bytes_only else _stage.run(batch)


# --- running a plan in order ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Task:
    items: tuple[Unit, ...]
    alone: bool = False  # quarantined: run by itself, so that a crash names this one item
    bytes_only: bool = False  # its examination crashed alone: only its bytes are hashed (Stage.run_bytes_only)
    future: Future[list[Outcome]] | None = None


def batches(items: Sequence[Unit], most_items: int, most_bytes: int) -> Iterator[tuple[Unit, ...]]:
    """Consecutive runs of items: at most ``most_items``, and at most ``most_bytes`` unless one item. A range of
    a split region is a task alone (``run_ordered`` may have to carve it again before the next is taken)."""
    batch: list[Unit] = []
    size = 0
    for item in items:
        if isinstance(item, RegionRange | VideoSegment):
            if batch:
                yield tuple(batch)
                batch, size = [], 0
            yield (item,)
            continue
        grow = item.size or 0
        if batch and (len(batch) >= most_items or (most_bytes and size + grow > most_bytes)):
            yield tuple(batch)
            batch, size = [], 0
        batch.append(item)
        size += grow
    if batch:
        yield tuple(batch)


def run_ordered(executor: Executor, items: Sequence[Item]) -> Generator[WorkResult, None, None]:
    """Examine ``items`` on ``executor``; yield one result per item, in the order given.

    Closing the generator (the caller stopped) or an exception out of it cancels what was not taken.
    See the module docstring for what happens to a batch whose worker died.
    """
    units = plan(items, executor.splitting)
    rejoin = Rejoin(executor.splitting, executor.videos)
    most = max(1, min(executor.batch_items, len(units) // (4 * executor.in_flight) or 1))
    planned = batches(units, most, executor.batch_bytes)
    window: deque[_Task] = deque()
    crashes = 0
    try:
        while True:
            _fill(executor, window, planned)
            if not window:
                return
            task = window[0]
            if task.future is None:  # a quarantined unit, put at the head
                task.future = executor.submit(task.items, task.bytes_only)
            try:
                results = task.future.result()
            except Exception as exc:
                if not executor.lost(exc):
                    raise
                executor.restart()
                if task.alone:
                    crashes += 1
                    if crashes >= MAX_CRASHES_IN_A_ROW:
                        raise ExecutorError(
                            f"{crashes} worker processes died in a row; try --executor threads"
                        ) from exc
                    window.popleft()
                    unit = task.items[0]
                    if isinstance(unit, RegionRange | VideoSegment):  # no bytes of its own: its item says which
                        warning = crashed_range(unit) if isinstance(unit, RegionRange) else crashed_segment(unit)
                        if (joined := rejoin.crashed(unit, warning)) is not None:
                            yield joined
                    elif task.bytes_only:
                        yield crashed(unit)
                    else:  # its bytes may still match exactly: hash them with nothing decoded, alone
                        window.appendleft(_Task(task.items, alone=True, bytes_only=True))
                _quarantine(window)
                continue
            window.popleft()
            crashes = 0
            if task.bytes_only:
                hashed = results[0]
                if not isinstance(hashed, WorkResult):  # pragma: no cover - run_bytes_only hashes items only
                    raise TypeError("a bytes-only result is a WorkResult")
                yield crashed(_items_only(task.items)[0], hashed)
                continue
            for at, (unit, result) in enumerate(zip(task.items, results, strict=True)):
                done, then = rejoin.take(unit, result)
                if then:  # a range to carve again, or a video's segments: run before the rest of this task is taken
                    rest = task.items[at + 1 :]
                    if rest:
                        taken: Future[list[Outcome]] = Future()
                        taken.set_result(results[at + 1 :])
                        window.appendleft(_Task(rest, future=taken))
                    window.extendleft(reversed([_Task((u,)) for u in then]))  # submitted by _fill, paced
                    break
                if done is not None:
                    yield done
    finally:
        for waiting in window:
            if waiting.future is not None:
                waiting.future.cancel()


def _fill(executor: Executor, window: deque[_Task], planned: Iterator[tuple[Unit, ...]]) -> None:
    """Keep the window full; while quarantined items wait, only the head task runs, alone.

    Units put at the head unsubmitted (a video's segments, a range to carve again: a ten-hour film has hundreds)
    are submitted in order, no more running at once than ``in_flight``, like the planned batches."""
    if any(t.alone for t in window):
        if window[0].future is None:
            window[0].future = executor.submit(window[0].items, window[0].bytes_only)
        return
    running = sum(1 for t in window if t.future is not None and not t.future.done())
    for task in window:
        if running >= executor.in_flight:
            return
        if task.future is None:
            task.future = executor.submit(task.items, task.bytes_only)
            running += 1
    while len(window) < executor.in_flight:
        batch = next(planned, None)
        if batch is None:
            return
        window.append(_Task(batch, future=executor.submit(batch)))


def _quarantine(window: deque[_Task]) -> None:
    """After a worker died: keep results already done; split every lost task into single items, alone."""
    kept: list[_Task] = []
    for task in window:
        future = task.future
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            kept.append(task)
        else:
            kept.extend(_Task((item,), alone=True, bytes_only=task.bytes_only) for item in task.items)
    window.clear()
    window.extend(kept)
