"""The grading API at the HTTP level: cluster grades limited to the members shown, conflicts before
overwriting, undo, confirmation only after a reveal, live counts, and the item detail panel."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from safenet.case.clusters import build_clusters
from safenet.case.gradings import Grade, current_gradings, grade_items
from safenet.case.store import Case
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, User, UserStore
from safenet.web import WebSettings, create_app
from tests.web.conftest import PASSWORD, Browser, Built, Clock

pytestmark = pytest.mark.usefixtures("case_db")  # SQLite and PostgreSQL (tests/pgcase.py)

ERIN = User("erin", Role.EXAMINER, Clock().now)


def _cluster(page: str, item: int) -> int:
    [found] = re.findall(rf'data-item="{item}"[^>]*?data-cluster="(\d+)"', page)
    return int(found)


def test_a_cluster_grade_touches_only_shown_members_and_asks_before_overwriting(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    client = login("alice")
    big, small, other = built.ids["dup-big.jpg"], built.ids["dup-small.png"], built.ids["other.jpg"]
    cluster = _cluster(client.page("/review"), big)
    view = client.page(f"/review?cluster={cluster}")
    assert f'data-item="{big}"' in view and f'data-item="{other}"' not in view
    refused = client.api("/api/grade", {"grade": "B", "cluster_id": cluster, "item_ids": [big, other]})
    assert refused.status_code == 409 and f"item(s) {other} are not reviewable members" in refused.json()["detail"]
    assert client.api("/api/grade", {"grade": "B", "cluster_id": cluster}).status_code == 400
    assert current_gradings(app.state.web.case) == {}
    grade_items(app.state.web.case, [small], Grade.A, ERIN)
    conflict = client.api("/api/grade", {"grade": "B", "cluster_id": cluster, "item_ids": [big, small]})
    assert conflict.status_code == 409
    assert conflict.json()["conflicts"] == [{"item_id": small, "grade": "A", "examiner": "erin"}]
    assert current_gradings(app.state.web.case)[small].grade is Grade.A
    done = client.api("/api/grade", {"grade": "B", "cluster_id": cluster, "item_ids": [big], "overwrite": False})
    assert done.status_code == 200 and [g["item_id"] for g in done.json()["graded"]] == [big]  # only what was shown
    both = client.api("/api/grade", {"grade": "B", "cluster_id": cluster, "item_ids": [big, small], "overwrite": True})
    rows = [g["row_id"] for g in both.json()["graded"]]
    undone = client.api("/api/undo", {"row_ids": rows[1:]})
    assert undone.status_code == 200 and undone.json()["undone"][0]["grade"] == "A"
    assert current_gradings(app.state.web.case)[small].examiner == "erin"
    assert client.get("/api/counts").json()["B"] == 1


def test_confirm_needs_a_reveal_and_the_detail_panel_shows_the_history(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    other = built.ids["other.jpg"]
    grade_items(app.state.web.case, [other], Grade.C, ERIN)
    reviewer = login("bob")
    refused = reviewer.api("/api/confirm", {"item_ids": [other]})
    assert refused.status_code == 409 and "has not been shown" in refused.json()["detail"]
    assert reviewer.api(f"/api/items/{other}/reveal", {"step": "grey"}).status_code == 200
    assert reviewer.api("/api/confirm", {"item_ids": [other]}).status_code == 200
    assert reviewer.api(f"/api/items/{other}/notes", {"text": "background matches series"}).status_code == 200
    examiner = login("alice")
    assert examiner.api(f"/api/items/{other}/tags", {"tag": "series-1"}).status_code == 200
    detail = examiner.get(f"/api/items/{other}/detail").json()
    assert detail["exhibit"] == "EX1" and detail["source"] == "live" and detail["sha256"]
    assert detail["grade_history"][0].startswith("C by erin") and "confirmed by bob" in detail["grade_history"][0]
    assert detail["notes"][0].endswith("background matches series") and detail["tags"] == ["series-1"]
    assert examiner.get("/api/items/999999/detail").status_code == 404
    assert examiner.get(f"/api/items/{2**64}/detail").status_code == 404


def test_a_cluster_across_exhibits_says_so_and_its_view_shows_every_member(
    built: Built, template_case: Built, users: UserStore, clock: Clock
) -> None:
    case = Case.open_existing(built.case)
    store = HashSetStore(template_case.case.parent / "db")  # the set the fixture's case was triaged with
    options = TriageOptions(exhibit="EX2", hashsets=("ref-a",), operator="t", executor=ExecutorKind.INLINE)
    try:
        triage(built.evidence, case, store, options)
        build_clusters(case)
    finally:
        case.close()
    app = create_app(built.case, users, WebSettings(clock=clock))
    try:
        client = Browser(app, follow_redirects=False)
        client.page("/login")
        client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": client.csrf})
        grid = client.page("/review")
        assert "spans 2 exhibits" in grid
        cluster = _cluster(grid, built.ids["dup-big.jpg"])
        view = client.page(f"/review?cluster={cluster}")
        assert "This cluster spans 2 exhibits: EX1, EX2." in view
        members = [int(i) for i in re.findall(r'data-item="(\d+)"', view)]
        assert len(members) == 4
        graded = client.api("/api/grade", {"grade": "C", "cluster_id": cluster, "item_ids": members})
        assert graded.status_code == 200 and len(graded.json()["graded"]) == 4
    finally:
        app.state.web.case.close()


def test_filters_by_source_path_size_and_date_and_sort(login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    sizes = {p.name: p.stat().st_size for p in built.evidence.iterdir()}

    def names(query: str) -> list[str]:
        page = client.page(f"/review?{query}")
        return [html.unescape(n) for n in re.findall(r'<span class="name" title="[^"]*">([^<]*)</span>', page)]

    everything = names("")
    assert len(everything) == 4
    assert names("sort=name") == sorted(everything, key=str.casefold)
    assert [sizes[n] for n in names("sort=size")] == sorted((sizes[n] for n in everything), reverse=True)
    floor_kb = max(sizes[n] for n in everything) // 1024
    assert names(f"min_kb={floor_kb}") == [n for n in everything if sizes[n] >= floor_kb * 1024]
    assert names("since=2999-01-01") == [] and len(names("until=2999-01-01")) == 4
    assert names("source=embedded") == [] and len(names("source=live")) == 4
    assert names(f"path={built.evidence}") == everything and names("path=/nowhere") == []
    assert client.get("/review?sort=random").status_code == 422


def test_collapsed_grid_shows_one_representative_per_cluster(login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    full = client.page("/review")
    collapsed = client.page("/review?collapse=1")
    assert len(re.findall(r'class="card', full)) == 4 and len(re.findall(r'class="card', collapsed)) == 3
    assert "(2 members; E opens it)" in collapsed


def test_an_unwritable_audit_log_refuses_a_grade_in_one_sentence_and_keeps_nothing(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    """Issue 19: a torn audit log (power cut) or a full disk during review was an HTTP 500."""
    import errno

    from safenet.case import audit

    client = login("alice")
    other = built.ids["other.jpg"]
    with (built.case / "audit.jsonl").open("ab") as log:
        log.write(b'{"seq": 99, "torn')  # an interrupted write
    refused = client.api("/api/grade", {"grade": "C", "item_ids": [other]})
    assert refused.status_code == 503
    assert refused.json()["detail"].startswith("nothing was recorded: the audit log ")
    assert "--resume" in refused.json()["detail"]
    case = Case.open_existing(built.case)
    try:
        assert case.audit.repair()  # as `safenet triage --resume` does
        assert other not in current_gradings(case)
    finally:
        case.close()

    real_write = audit.os.write

    def full(fd: int, data: bytes) -> int:
        if b"item-graded" in bytes(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    audit.os.write = full  # type: ignore[assignment]
    try:
        refused = client.api("/api/grade", {"grade": "C", "item_ids": [other]})
    finally:
        audit.os.write = real_write  # type: ignore[assignment]
    assert refused.status_code == 507 and "is full" in refused.json()["detail"]
    case = Case.open_existing(built.case)
    try:
        assert other not in current_gradings(case)
    finally:
        case.close()
