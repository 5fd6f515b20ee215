"""The ``--executor`` choice, apart from the executors themselves so the command line can offer it without
importing the pipeline (NumPy, Pillow, dfVFS) just to print ``--help``."""

from __future__ import annotations

from enum import StrEnum


class ExecutorKind(StrEnum):
    """Chosen with ``--executor``; recorded in the run's config."""

    INLINE = "inline"
    THREADS = "threads"
    PROCESSES = "processes"
    DASK = "dask"  # a Dask distributed cluster (``--cluster``): engine.dask_executor
