"""Worker health, as the Dask scheduler sees it, and its dashboard link: for ``safenet lab status``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final, cast

from safenet.reasons import reason_of

ASK_SECONDS: Final = 5  # a status answers quickly, even when a scheduler is gone


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    name: str
    address: str
    threads: int
    memory: int  # bytes the worker process holds now
    memory_limit: int  # 0: none
    executing: int  # tasks running on it now
    seen_ago: float  # seconds since its last heartbeat


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    address: str
    reachable: bool
    problem: str = ""
    dashboard: str = ""
    workers: tuple[WorkerHealth, ...] = ()


def _worker(address: str, info: dict[str, Any], now: float) -> WorkerHealth:
    metrics = info.get("metrics", {})
    return WorkerHealth(
        name=str(info.get("name", address)),
        address=address,
        threads=int(info.get("nthreads", 0)),
        memory=int(metrics.get("memory", 0) or 0),
        memory_limit=int(info.get("memory_limit", 0) or 0),
        executing=int(metrics.get("task_counts", {}).get("executing", metrics.get("executing", 0)) or 0),
        seen_ago=max(0.0, now - float(info.get("last_seen", now))),
    )


def cluster_health(address: str) -> ClusterHealth:
    """Ask the scheduler at ``address``; an unreachable one is a health answer too, never an error."""
    from distributed import Client

    try:
        client: Any = cast(Any, Client)(address, timeout=ASK_SECONDS, set_as_default=False)  # untyped in Dask
    except (OSError, TimeoutError) as exc:
        return ClusterHealth(address, False, problem=reason_of(exc))
    try:
        info = client.scheduler_info(n_workers=-1)
        now = time.time()
        workers = tuple(sorted((_worker(a, w, now) for a, w in info.get("workers", {}).items()), key=lambda w: w.name))
        return ClusterHealth(address, True, dashboard=str(client.dashboard_link or ""), workers=workers)
    finally:
        client.close()
