"""The examine stage on a Dask distributed cluster (``--cluster tcp://host:8786``): one exhibit across machines.

The coordinator (the ``safenet triage`` process) lists the evidence, orders it, and submits batches of top-level
``Item`` s (values: their locators pickle) exactly as it does to a process pool (``executors.run_ordered``); it
matches and records the results itself. Each Dask worker opens its own stage once per run (a worker plugin,
``_StagePlugin``, registered under a name unique to the run; opened at the worker's first task, closed when the
run unregisters it), from the same plain ``WorkerSetup`` a worker process gets, with the source and the hash-set
array folders rewritten by ``--path-map`` (``ClusterTarget.worker_path``). Where the worker's path differs, its
evidence opens locators named under the coordinator's path (``_relocate``), so every result names the item the
coordinator listed and the case reads as if the run were local.

Failures, in Dask's terms:

- a worker that dies (killed, machine lost, a native decoder crash) loses nothing: the scheduler gives its
  tasks to another worker; a task that killed ``allowed-failures`` + 1 workers (the scheduler's setting; the lab
  runs it at 1, so a task is tried on two workers) comes back as ``KilledWorker``, which is the "lost" of
  ``run_ordered``: the batch is split and its items retried alone, then bytes only, then recorded as a
  ``worker-crashed`` warning, as with worker processes;
- a task that raises (a worker cannot open the evidence: a wrong ``--path-map``, shared storage not mounted)
  is retried once elsewhere (``RETRIES``), then the run stops with that one sentence; what was recorded stays
  and ``--resume`` finishes the run.

Large regions are split (``engine.split``): a region of unallocated space or slack larger than ``SPLIT_BYTES``
(256 MiB) is carved as byte ranges, one task each, spread over the workers like any batch; each range carves
the files starting in it, reading past its end as far as a file needs, and the coordinator merges the ranges'
carves under the one region record in offset order, so the case is exactly what an unsplit carve records (a
range whose carves could differ, because a file found before it runs into it, is carved again with the true
scan state). A range that kills two workers becomes a ``worker-crashed`` warning naming the region and the
byte range; the other ranges' finds are kept.

Long videos are split by time (``engine.videosplit``): every video is examined as fixed time segments wherever
it runs, so the worker examining a top-level video of several segments leaves its frames pending, and the
coordinator sends each segment as a task of its own (a worker reopens the video and hashes that segment alone)
and merges them back under the video's one record, in order, with the function every run uses: the record is
the one a local run makes. A segment that kills two workers becomes a ``worker-crashed`` warning naming the
video and the time range; the other segments' frames are kept.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from distributed import Client, KilledWorker, WorkerPlugin, get_worker
from distributed import Future as DaskFuture

from safenet.engine.cluster import ClusterTarget
from safenet.engine.executors import (
    Executor,
    ExecutorError,
    ExecutorKind,
    ReadingHints,
    Stage,
    WorkerSetup,
    open_stage,
    reading_hints,
    splitting_for,
    video_splitting_for,
)
from safenet.engine.split import Outcome, Unit
from safenet.evidence.locator import Layer, Locator
from safenet.evidence.model import Evidence
from safenet.reasons import reason_of

RETRIES: Final = 1  # a task that raised is tried once more, on another worker where there is one
CONNECT_SECONDS: Final = 15  # to reach the scheduler
WORKERS_SECONDS: Final = 60  # for a first worker to join it
DASK_BATCH_ITEMS: Final = 256  # items per task (see DaskExecutor)
DASK_BATCH_BYTES: Final = 64 << 20  # ... split sooner where the files are big, so every worker stays busy
IN_FLIGHT_PER_THREAD: Final = 3  # tasks submitted per worker thread: each has the next one waiting


@dataclass(frozen=True, slots=True)
class DaskSetup:
    """What a worker needs to open its stage: the setup as the worker sees it, and the coordinator's source
    layer (the first layer of every locator the coordinator sends)."""

    setup: WorkerSetup
    origin: Layer | None  # None: the back-end names no source layer; locators are used as they come


class _StagePlugin(WorkerPlugin):
    """One run's stage on one Dask worker, opened at its first task and shared by the worker's threads."""

    def __init__(self, run: DaskSetup, factory: Callable[[WorkerSetup], Stage]) -> None:
        self.run, self.factory = run, factory  # not "setup": WorkerPlugin.setup is the hook Dask calls
        self._stage: Stage | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:  # a lock does not pickle; a fresh one on the worker
        return {"run": self.run, "factory": self.factory}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["run"], state["factory"])  # type: ignore[misc]

    def stage(self) -> Stage:
        with self._lock:
            if self._stage is None:
                try:
                    stage = self.factory(self.run.setup)
                except Exception as exc:
                    raise ExecutorError(
                        f"a Dask worker could not open the evidence {self.run.setup.source} "
                        f"({exc.__class__.__name__}: {reason_of(exc)}); check that the workers see it there, "
                        "or map the path with --path-map LOCAL=SHARED"
                    ) from None  # the chain would hold unpicklable back-end state
                _relocate(stage.evidence, self.run.origin)
                self._stage = stage
            return self._stage

    def teardown(self, worker: object) -> None:
        self._stage = None  # the evidence handles close with it


def _source_layer(evidence: Evidence) -> Layer | None:
    """The first layer of the locators ``evidence`` names (its source), or None when it names none."""
    locator = getattr(evidence, "locator", None)
    return locator.layers[0] if isinstance(locator, Locator) else None


def _relocate(evidence: Evidence, origin: Layer | None) -> None:
    """Let ``evidence`` (opened under the worker's path) open locators named under the coordinator's path.

    Only the first layer differs, and only ``open`` reads it; the instance's ``open`` is replaced (not wrapped
    in a new class) so that the back-end's type, which ``registry.open_sibling`` asks about, stays the same.
    """
    own = _source_layer(evidence)
    if origin is None or own is None or own == origin:
        return
    opener = evidence.open

    def open_relocated(locator: Locator) -> object:
        if locator.layers and locator.layers[0] == origin:
            locator = Locator((own, *locator.layers[1:]))
        return opener(locator)

    setattr(evidence, "open", open_relocated)  # noqa: B010 - assigning a method directly upsets mypy


def _untyped(value: object) -> Any:
    """``value`` for calling its methods that Dask leaves without annotations (mypy strict refuses those)."""
    return value


def _run_batch(name: str, batch: tuple[Unit, ...], bytes_only: bool, hints: ReadingHints = ()) -> list[Outcome]:
    """A task, on a Dask worker: this run's stage examines the batch."""
    plugin = get_worker().plugins[name]
    if not isinstance(plugin, _StagePlugin):  # pragma: no cover - a name clash with another plugin
        raise ExecutorError(f"the Dask worker plugin {name} is not Safenet's")
    stage = plugin.stage()
    stage.adopt(hints)
    return stage.run_bytes_only(batch) if bytes_only else stage.run(batch)


class _Bridged(Future[list[Outcome]]):
    """A Dask future seen as a ``concurrent.futures`` one (what ``run_ordered`` takes); cancelling it cancels
    the task on the cluster."""

    def __init__(self, remote: DaskFuture[list[Outcome]]) -> None:
        super().__init__()
        self.remote = remote
        _untyped(remote).add_done_callback(self._settle)  # called on another thread once the task ends

    def _settle(self, remote: DaskFuture[list[Outcome]]) -> None:
        try:
            result = remote.result()
        except BaseException as exc:  # handed to the taker, who decides
            self._set(exc)
        else:
            self._set(result)

    def _set(self, value: list[Outcome] | BaseException) -> None:
        try:
            if isinstance(value, BaseException):
                self.set_exception(value)
            else:
                self.set_result(value)
        except InvalidStateError:  # cancelled meanwhile: nobody waits for it
            pass

    def cancel(self) -> bool:
        _untyped(self.remote).cancel()
        return super().cancel()


def worker_setup(setup: WorkerSetup, target: ClusterTarget) -> WorkerSetup:
    """``setup`` with the source and the hash sets' array folders as the workers see them."""
    source = setup.source
    if isinstance(source, Path):
        source = Path(target.worker_path(str(source.resolve())))
    matcher = tuple((info, Path(target.worker_path(str(folder.resolve())))) for info, folder in setup.matcher)
    return replace(setup, source=source, matcher=matcher)


def connect(address: str) -> Client:
    """A client of the scheduler at ``address`` with at least one worker; ExecutorError says what is wrong."""
    try:
        client: Client = _untyped(Client)(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address} ({reason_of(exc)}); start it with `dask scheduler` "
            "or check --cluster"
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except TimeoutError:
        _untyped(client).close()
        raise ExecutorError(
            f"no Dask worker joined the scheduler at {address} within {WORKERS_SECONDS} s; start workers with "
            f"`dask worker {address} --nthreads 1`"
        ) from None
    return client


class DaskExecutor(Executor):
    NAME = ExecutorKind.DASK
    # Larger tasks than a process pool's: each task costs the scheduler a graph update (it unpickles and pickles
    # the arguments) and the client a result round trip over TCP; 256 photo-sized files are ~0.1 s of a worker.
    batch_items = DASK_BATCH_ITEMS
    batch_bytes = DASK_BATCH_BYTES

    def __init__(
        self,
        client: Client,
        setup: DaskSetup,
        factory: Callable[[WorkerSetup], Stage] = open_stage,
        owns_client: bool = True,
        evidence: Evidence | None = None,
    ) -> None:
        """``factory`` (a module-level function: pickled by name) opens each worker's stage; ``evidence``, the
        coordinator's listed evidence, hands the workers how to read each task's items (``executors.reading_hints``)."""
        self.client, self.owns_client, self.evidence = client, owns_client, evidence
        self.name = f"safenet-stage-{uuid.uuid4().hex}"
        threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        self.in_flight = IN_FLIGHT_PER_THREAD * max(1, threads)
        setup = replace(setup, setup=replace(setup.setup, plan=replace(setup.setup.plan, split_videos=True)))
        self.splitting = splitting_for(setup.setup.plan)
        self.videos = video_splitting_for(setup.setup.plan)
        client.register_plugin(_StagePlugin(setup, factory), name=self.name)
        try:
            self.submit(()).result()  # every task from here is past the plugin and the connection
        except BaseException:
            self.close()
            raise

    @classmethod
    def for_run(
        cls, target: ClusterTarget, setup: WorkerSetup, evidence: Evidence, client: Client | None = None
    ) -> DaskExecutor:
        """An executor on ``target``'s cluster for a run over ``evidence`` (a ``client`` given is not closed)."""
        origin = _source_layer(evidence)
        owns = client is None
        client = client or connect(target.address)
        try:
            # ``open_stage`` looked up now, not bound at definition: a benchmark's simulated stage replaces it
            return cls(
                client, DaskSetup(worker_setup(setup, target), origin), open_stage, owns_client=owns, evidence=evidence
            )
        except BaseException:
            if owns:
                _untyped(client).close()
            raise

    def submit(self, batch: Sequence[Unit], bytes_only: bool = False) -> Future[list[Outcome]]:
        hints = reading_hints(self.evidence, batch)
        remote = self.client.submit(_run_batch, self.name, tuple(batch), bytes_only, hints, pure=False, retries=RETRIES)
        return _Bridged(remote)

    def lost(self, error: BaseException) -> bool:
        return isinstance(error, KilledWorker)

    def restart(self) -> None:
        """Nothing to restart: the nannies replace dead workers and the scheduler forgets them."""

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a scheduler already gone holds no plugin to remove
            _untyped(self.client).unregister_worker_plugin(self.name)
        if self.owns_client:
            _untyped(self.client).close()
