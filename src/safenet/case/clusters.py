"""Near-duplicate clusters of unknown images in a case (``safenet cluster``), for grading them together.

Why: once an examiner has graded one picture of a series, its resized, recompressed and re-saved copies
should be in front of them next. Members are items whose own PDQ hash may support a match (quality ≥ 50,
not degenerate) and that have no illicit finding; two items are linked when their hashes lie within the
threshold, and clusters are the connected components (union-find over one range query of every hash
against all the others, on the exact index of ``hashsets.index``). Clusters are derived data: each build
replaces the previous one and is recorded in the audit log; findings are never touched.

Only the hash of the picture as found is stored per item, so a rotated copy joins its original's cluster
only if an orientation-proof hash is added later (a known limit, said in the README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, insert, select

from safenet.analysis.pdq import DEFAULT_THRESHOLD
from safenet.case.clustermap import cluster_map
from safenet.case.schema import ClusterRow, Exhibit, Finding, ItemRow
from safenet.case.store import Case
from safenet.case.verdict import is_hit
from safenet.hashsets.index import BruteForceIndex, FaissIndex, PerceptualIndex
from safenet.hashsets.perceptual import FAISS_FROM


@dataclass(frozen=True, slots=True)
class ClusterOutcome:
    candidates: int  # items that could join a cluster
    clusters: int
    clustered_items: int
    threshold: int


def _candidates(case: Case) -> tuple[list[int], list[bytes]]:
    """Item ids and PDQ hashes of unknown images with a usable hash, in id order."""
    with case.sessions() as s:
        flagged = {
            item_id
            for item_id, set_kind, category in s.execute(select(Finding.item_id, Finding.set_kind, Finding.category))
            if is_hit(set_kind, category)
        }
        rows = s.execute(
            select(ItemRow.id, ItemRow.pdq)
            .where(ItemRow.pdq.is_not(None), ItemRow.pdq_low_quality.is_(None))
            .order_by(ItemRow.id)
        ).all()
    kept = [(item_id, bytes.fromhex(pdq)) for item_id, pdq in rows if pdq and item_id not in flagged]
    return [k[0] for k in kept], [k[1] for k in kept]


def _components(index: PerceptualIndex, hashes: npt.NDArray[np.uint8], threshold: int) -> npt.NDArray[np.intp]:
    """Union-find over every pair within the threshold; returns each position's root (smallest position)."""
    parent = np.arange(len(hashes), dtype=np.intp)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    hits = index.query(hashes, threshold)
    for a, b in zip(hits.query.tolist(), hits.entry.tolist(), strict=True):
        if a < b:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(len(hashes))], dtype=np.intp)


def build_clusters(case: Case, threshold: int = DEFAULT_THRESHOLD) -> ClusterOutcome:
    """Replace the case's clusters with those found now at ``threshold``; audited."""
    ids, found = _candidates(case)
    groups: dict[int, list[int]] = {}
    if found:
        hashes = np.frombuffer(b"".join(found), dtype=np.uint8).reshape(len(found), 32)
        index: PerceptualIndex = BruteForceIndex(hashes) if len(found) < FAISS_FROM else FaissIndex(hashes)
        for position, top in enumerate(_components(index, hashes, threshold).tolist()):
            groups.setdefault(top, []).append(position)
    clusters = [members for members in groups.values() if len(members) > 1]  # ordered by first member
    now = datetime.now(UTC)
    rows = [
        {"item_id": ids[p], "cluster": number, "threshold": threshold, "built_at": now}
        for number, members in enumerate(clusters, start=1)
        for p in members
    ]
    with case.exclusive(), case.sessions.begin() as s:
        s.execute(delete(ClusterRow))
        if rows:
            s.execute(insert(ClusterRow), rows)
    outcome = ClusterOutcome(len(ids), len(clusters), len(rows), threshold)
    case.audit.append(
        "clusters-built",
        threshold=threshold,
        candidates=outcome.candidates,
        clusters=outcome.clusters,
        clustered_items=outcome.clustered_items,
    )
    return outcome


def cluster_report(case: Case) -> list[dict[str, Any]]:
    """The clusters for the JSON report, as the review shows them (the examiners' splits and merges applied
    over the stored clusters): members in item order."""
    clusters = cluster_map(case).of_item
    query = (
        select(ClusterRow, ItemRow, Exhibit.label)
        .join(ItemRow, ItemRow.id == ClusterRow.item_id)
        .join(Exhibit, Exhibit.id == ItemRow.exhibit_id)
        .order_by(ItemRow.id)
    )
    out: dict[int, dict[str, Any]] = {}
    with case.sessions() as s:
        for member, item, label in s.execute(query):
            number = clusters.get(item.id)
            if number is None:  # taken out of its cluster by an examiner
                continue
            entry = out.setdefault(
                number,
                {
                    "cluster": number,
                    "threshold": member.threshold,
                    "built_at": member.built_at.isoformat(),
                    "items": [],
                },
            )
            entry["items"].append(
                {
                    "exhibit": label,
                    "locator": json.loads(item.locator),
                    "path": item.display,
                    "md5": item.md5,
                    "pdq": item.pdq,
                }
            )
    return [out[n] for n in sorted(out)]
