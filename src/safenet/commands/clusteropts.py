"""``--cluster`` and ``--path-map``: the options of every command that examines on a Dask cluster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from safenet.commands.common import Exit, fail
from safenet.engine.cluster import ClusterTarget, PathMap
from safenet.engine.executor_kind import ExecutorKind

if TYPE_CHECKING:
    from safenet.evidence.registry import Source

Cluster = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Examine on a Dask cluster: the scheduler's address, e.g. tcp://lab-1:8786 (the evidence must be on "
        "storage the workers share; see --path-map).",
    ),
]
PathMaps = Annotated[
    list[str] | None,
    typer.Option(
        "--path-map",
        help="With --cluster: the workers see LOCAL as SHARED, e.g. /mnt/evidence=/lab/evidence (repeatable; "
        "default: the same path on every machine).",
    ),
]


def cluster_target(cluster: str | None, path_map: Sequence[str] | None) -> ClusterTarget | None:
    """The cluster to examine on, or None; a ValueError says what is wrong with the options."""
    if cluster is None:
        if path_map:
            raise ValueError("--path-map is for a cluster run: add --cluster tcp://HOST:PORT")
        return None
    if "://" not in cluster:
        raise ValueError(f"--cluster {cluster!r} is not a scheduler address such as tcp://lab-1:8786")
    return ClusterTarget(cluster, tuple(PathMap.parse(text) for text in path_map or ()))


def check_cluster(target: ClusterTarget, executor: ExecutorKind | None, sources: Sequence[Source]) -> ExecutorKind:
    """The executor of a cluster run (dask); exits with a usage error for what a cluster cannot examine."""
    from safenet.evidence.registry import DeviceAddress

    if executor not in (None, ExecutorKind.DASK):
        fail(Exit.USAGE, f"--cluster runs on the cluster's workers; leave out --executor {executor.value}")
    for source in sources:
        if isinstance(source, DeviceAddress):
            fail(
                Exit.USAGE,
                f"{source} is plugged into this machine, out of the workers' reach; --cluster takes images and "
                "folders on shared storage",
            )
    return ExecutorKind.DASK
