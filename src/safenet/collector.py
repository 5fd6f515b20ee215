"""How often Python's cyclic garbage collector runs in Safenet's own processes.

Safenet's per-item objects are acyclic and freed by reference counting; at Python's default (a collection of the
youngest generation every 700 new container objects) the imports alone set off two full collections before a
triage reads its first file, and a 20 000-file quick triage spent 229 ms in the collector (bench/bench_exit.py;
73 ms at 10 000). The console entry point (``cli.run``) and the triage's worker processes (``engine.executors``)
set it; a lab's Dask workers are the lab's processes and keep their own setting.
"""

from __future__ import annotations

import gc
from typing import Final

#: New container objects between two collections of the youngest generation (Python's default: 700).
YOUNG_OBJECTS: Final = 10_000


def collect_less() -> None:
    """Collect cyclic garbage every ``YOUNG_OBJECTS`` new objects (older generations as Python does)."""
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)
