"""The in-process Dask cluster the tests run on."""

from __future__ import annotations

from distributed import LocalCluster


def local_cluster() -> LocalCluster:
    """Two single-threaded workers in this process (no worker processes to start), with no memory limit: Dask's
    default, half the machine's memory per worker, is checked against the whole pytest process (over 700 MB by the
    end of the suite), so on a CI machine with a few GB the workers pause and the test times out."""
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None, memory_limit=0)
