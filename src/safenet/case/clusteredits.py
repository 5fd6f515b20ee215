"""An examiner's manual edits of the near-duplicate clusters: take items out of a cluster, merge two clusters.

Each edit is a new row of ``cluster_edits`` (never changed or deleted) with its own audit line
("cluster-edited"), applied over the computed clusters each time they are read (``case.clustermap``), so it
survives ``safenet cluster`` being run again. Only those who may grade may regroup (a cluster grade acts on
what a cluster holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from safenet.case.clustermap import MERGE, SPLIT, ClusterEdit, cluster_map
from safenet.case.gradings import GRADERS, GradingError
from safenet.case.schema import ClusterEditRow
from safenet.case.store import Case
from safenet.users import User


def split_items(case: Case, item_ids: Sequence[int], user: User) -> list[ClusterEdit]:
    """Take items out of their clusters (each then stands alone); refused, with nothing written, for an item
    that is not in a cluster."""
    _may_edit(user)
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        raise GradingError("no items were given to take out of a cluster")
    clusters = cluster_map(case).of_item
    outside = [i for i in ids if i not in clusters]
    if outside:
        listed = ", ".join(str(i) for i in outside)
        raise GradingError(f"item(s) {listed} are not in a near-duplicate cluster; nothing was changed")
    return _write(case, [(SPLIT, i, None) for i in ids], user)


def merge_clusters(case: Case, cluster: int, other: int, user: User) -> ClusterEdit:
    """Merge cluster ``other`` into ``cluster`` (numbers as shown now); the edit names one member of each."""
    _may_edit(user)
    now = cluster_map(case)
    keep, join = now.members(cluster), now.members(other)
    for number, members in ((cluster, keep), (other, join)):
        if not members:
            raise GradingError(f"there is no cluster {number}; nothing was changed")
    if cluster == other:
        raise GradingError(f"cluster {cluster} cannot be merged with itself")
    [edit] = _write(case, [(MERGE, keep[0], join[0])], user)
    return edit


def _may_edit(user: User) -> None:
    if user.role not in GRADERS:
        raise GradingError(f"{user.name} is a {user.role.value}; only examiners and admins may change clusters")


def _write(case: Case, edits: list[tuple[str, int, int | None]], user: User) -> list[ClusterEdit]:
    at = datetime.now(UTC)
    with case.writing() as s:
        rows = [ClusterEditRow(action=a, item_id=i, other_item_id=o, user=user.name, at=at) for a, i, o in edits]
        s.add_all(rows)
        s.flush()
        events: list[tuple[str, dict[str, Any]]] = [
            (
                "cluster-edited",
                {
                    "row": r.id,
                    "action": r.action,
                    "item": r.item_id,
                    "other": r.other_item_id,
                    "user": user.name,
                    "role": user.role.value,
                    "at": at.isoformat(),
                },
            )
            for r in rows
        ]
        case.audit.append_many(events)
        return [ClusterEdit(r.id, r.action, r.item_id, r.other_item_id, r.user, at) for r in rows]
