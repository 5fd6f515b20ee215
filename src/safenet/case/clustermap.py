"""The near-duplicate clusters as the examiner sees them: the computed clusters (``safenet cluster``) with the
examiners' manual edits (split, merge) applied over them, in the order they were made.

Why edits are kept apart and re-applied on every read: ``safenet cluster`` rebuilds the computed clusters as a
whole (and may renumber them), while an examiner's "these are not the same series" or "these two are" is a
decision that must survive a rebuild. An edit names items, never cluster numbers, so it means the same after
a rebuild; one whose items are no longer clustered does nothing (and is listed as not applied).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from safenet.case.schema import ClusterEditRow, ClusterRow
from safenet.case.store import Case

SPLIT = "split"
MERGE = "merge"
#: Stored in case files; never rename.
ACTIONS = (SPLIT, MERGE)


@dataclass(frozen=True, slots=True)
class ClusterEdit:
    row_id: int
    action: str  # split | merge
    item_id: int  # split: the item taken out; merge: an item of the cluster that stays
    other_item_id: int | None  # merge: an item of the cluster merged into it
    user: str
    at: datetime


@dataclass
class ClusterMap:
    """Each clustered item's cluster number, and which edits acted on which cluster."""

    of_item: dict[int, int] = field(default_factory=dict)
    applied: dict[int, list[ClusterEdit]] = field(default_factory=dict)  # cluster number -> edits on it
    not_applied: list[ClusterEdit] = field(default_factory=list)  # their items are no longer clustered

    def members(self, cluster: int) -> list[int]:
        return sorted(i for i, c in self.of_item.items() if c == cluster)


def cluster_edits(case: Case) -> list[ClusterEdit]:
    """Every manual edit, oldest first."""
    with case.sessions() as s:
        rows = s.scalars(select(ClusterEditRow).order_by(ClusterEditRow.id)).all()
    return [ClusterEdit(r.id, r.action, r.item_id, r.other_item_id, r.user, r.at) for r in rows]


def cluster_map(case: Case) -> ClusterMap:
    """The computed clusters with every manual edit applied."""
    with case.sessions() as s:
        computed: dict[int, int] = dict(s.execute(select(ClusterRow.item_id, ClusterRow.cluster)).all())
    return apply_edits(computed, cluster_edits(case))


def apply_edits(computed: dict[int, int], edits: Iterable[ClusterEdit]) -> ClusterMap:
    """Apply edits in order to ``computed`` (item -> cluster); a cluster left with one member dissolves."""
    out = ClusterMap(dict(computed))
    of = out.of_item
    for edit in edits:
        here = of.get(edit.item_id)
        if edit.action == SPLIT and here is not None:
            del of[edit.item_id]
            out.applied.setdefault(here, []).append(edit)
            rest = [i for i, c in of.items() if c == here]
            if len(rest) == 1:
                del of[rest[0]]
        elif edit.action == MERGE and edit.other_item_id is not None:
            there = of.get(edit.other_item_id)
            if here is None or there is None or here == there:
                out.not_applied.append(edit)
                continue
            for item, cluster in list(of.items()):
                if cluster == there:
                    of[item] = here
            out.applied.setdefault(here, []).append(edit)
            out.applied.setdefault(there, []).append(edit)
        else:
            out.not_applied.append(edit)
    return out
