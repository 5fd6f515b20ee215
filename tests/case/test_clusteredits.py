"""Manual cluster edits: items taken out of a near-duplicate cluster and two clusters merged, each audited,
applied over the computed clusters, and kept when ``safenet cluster`` runs again."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from safenet.case.clusteredits import merge_clusters, split_items
from safenet.case.clustermap import MERGE, SPLIT, ClusterEdit, apply_edits, cluster_map
from safenet.case.clusters import build_clusters, cluster_report
from safenet.case.gradings import GradingError
from safenet.case.reviewqueue import review_queue
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.case.verify import verify_case
from safenet.demo import picture
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, User
from tests.builders import write

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALICE = User("alice", Role.EXAMINER, NOW)
VIC = User("vic", Role.VIEWER, NOW)


def _no_warning(ref: str | None, message: str) -> None:
    raise AssertionError(f"unexpected warning {ref}: {message}")


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def case(tmp_path: Path) -> Case:
    """Two series of near-duplicates (a: three sizes, b: two) and one picture alone."""
    ev = tmp_path / "ev"
    for series, seed, sizes in (("a", 20, (640, 480, 320)), ("b", 40, (640, 400))):
        for n, width in enumerate(sizes, start=1):
            write(ev, f"{series}{n}.jpg", _jpeg(picture(seed, (640, 480)).resize((width, width * 3 // 4))))
    write(ev, "alone.jpg", _jpeg(picture(60, (320, 240))))
    # a built set holds PDQ hashes, so triage computes each picture's own PDQ hash (what clusters need)
    store = HashSetStore(tmp_path / "db")
    write(tmp_path / "ref", "ref.jpg", _jpeg(picture(99, (320, 240))))
    store.build_folder(tmp_path / "ref", "ref", kind=SetKind.ILLICIT, category="A", scheme="uk", warn=_no_warning)
    opened = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", hashsets=("ref",), operator="t", executor=ExecutorKind.INLINE)
    triage(ev, opened, store, options)
    build_clusters(opened)
    return opened


def _ids(case: Case) -> dict[str, int]:
    with case.sessions() as s:
        return {row.name.removesuffix(".jpg"): row.id for row in s.query(ItemRow)}


def _groups(case: Case, ids: dict[str, int]) -> set[frozenset[str]]:
    names = {v: k for k, v in ids.items()}
    clusters: dict[int, set[str]] = {}
    for item in review_queue(case):
        if item.cluster_id is not None:
            clusters.setdefault(item.cluster_id, set()).add(names[item.item_id])
    return {frozenset(c) for c in clusters.values()}


def test_split_and_merge_are_audited_shown_and_survive_a_rebuild(case: Case) -> None:
    ids = _ids(case)
    assert _groups(case, ids) == {frozenset({"a1", "a2", "a3"}), frozenset({"b1", "b2"})}
    [split] = split_items(case, [ids["a3"]], ALICE)
    assert (split.action, split.item_id, split.user) == (SPLIT, ids["a3"], "alice")
    assert _groups(case, ids) == {frozenset({"a1", "a2"}), frozenset({"b1", "b2"})}
    mapping = cluster_map(case)
    a, b = mapping.of_item[ids["a1"]], mapping.of_item[ids["b1"]]
    merge_clusters(case, a, b, ALICE)
    assert _groups(case, ids) == {frozenset({"a1", "a2", "b1", "b2"})}
    assert [e.action for e in cluster_map(case).applied[a]] == [SPLIT, MERGE]  # what the cluster view lists
    assert {i.item_id for i in review_queue(case, cluster=a)} == {ids[n] for n in ("a1", "a2", "b1", "b2")}
    build_clusters(case)  # `safenet cluster` again: the computed clusters are rebuilt, the edits stay
    assert _groups(case, ids) == {frozenset({"a1", "a2", "b1", "b2"})}
    [reported] = cluster_report(case)  # the JSON report lists the clusters as the review shows them
    assert [i["path"].rsplit("/", 1)[-1].split()[0] for i in reported["items"]] == [
        "a1.jpg",
        "a2.jpg",
        "b1.jpg",
        "b2.jpg",
    ]
    lines = [e["data"] for e in case.audit.entries() if e["event"] == "cluster-edited"]
    assert [(d["action"], d["item"], d["user"]) for d in lines] == [
        ("split", ids["a3"], "alice"),
        ("merge", ids["a1"], "alice"),
    ]
    assert lines[1]["other"] == ids["b1"]
    assert verify_case(case).ok


def test_edits_are_refused_for_viewers_unclustered_items_and_unknown_clusters(case: Case) -> None:
    ids = _ids(case)
    with pytest.raises(GradingError, match="only examiners and admins may change clusters"):
        split_items(case, [ids["a1"]], VIC)
    with pytest.raises(GradingError, match=f"item\\(s\\) {ids['alone']} are not in a near-duplicate cluster"):
        split_items(case, [ids["a1"], ids["alone"]], ALICE)
    with pytest.raises(GradingError, match="there is no cluster 999"):
        merge_clusters(case, cluster_map(case).of_item[ids["a1"]], 999, ALICE)
    a = cluster_map(case).of_item[ids["a1"]]
    with pytest.raises(GradingError, match="cannot be merged with itself"):
        merge_clusters(case, a, a, ALICE)
    assert not [e for e in case.audit.entries() if e["event"] == "cluster-edited"]  # nothing was written


def test_apply_edits_dissolves_a_cluster_of_one_and_skips_edits_whose_items_left() -> None:
    def edit(n: int, action: str, item: int, other: int | None = None) -> ClusterEdit:
        return ClusterEdit(n, action, item, other, "alice", NOW)

    computed = {1: 1, 2: 1, 3: 2, 4: 2, 5: 2}
    result = apply_edits(computed, [edit(1, SPLIT, 2), edit(2, MERGE, 3, 1), edit(3, MERGE, 4, 5), edit(4, SPLIT, 9)])
    assert result.of_item == {3: 2, 4: 2, 5: 2}  # item 1 was left alone: cluster 1 dissolved
    assert [e.row_id for e in result.not_applied] == [2, 3, 4]
