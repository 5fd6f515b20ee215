"""The simulated stage of bench_scale.py's 8- and 32-worker runs, imported by the Dask workers (PYTHONPATH=bench).

Each item costs the worker a sleep of ``SAFENET_SIM_ITEM_SECONDS`` (the per-item time measured on this machine's
real stage) and yields a record shaped like a real one (three digests, no findings inside), so the coordinator
lists, matches, records and audits exactly as in a real run: what the simulation measures is where the
coordinator, the scheduler and the wire stop keeping up as workers are added. Sleeping releases the GIL, so a
worker process with several threads stands for several workers.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence

from safenet.analysis.filetype import UNKNOWN
from safenet.case.records import ItemRecord, ItemStatus, WorkResult
from safenet.engine.executors import Stage, WorkerSetup
from safenet.evidence.model import Item

_SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "ed2k": 16}


class SleepingStage(Stage):
    def __init__(self, seconds_per_item: float, algorithms: Sequence[str]) -> None:
        self.seconds, self.algorithms = seconds_per_item, tuple(algorithms)
        self.evidence = None  # type: ignore[assignment]  # nothing is opened: no locator to relocate

    def run(self, batch: Sequence[Item]) -> list[WorkResult]:
        time.sleep(self.seconds * len(batch))
        return [self._result(item) for item in batch]

    run_bytes_only = run

    def _result(self, item: Item) -> WorkResult:
        seed = item.locator.to_json().encode()
        digests = {a: hashlib.sha256(seed + a.encode()).digest()[: _SIZES.get(a, 32)] for a in self.algorithms}
        record = ItemRecord(item, UNKNOWN, ItemStatus.EXAMINED, digests, False)
        return WorkResult((record,), (), item.size or 0)


def sleeping_stage(setup: WorkerSetup) -> Stage:
    return SleepingStage(float(os.environ.get("SAFENET_SIM_ITEM_SECONDS", "0")), setup.plan.algorithms)
