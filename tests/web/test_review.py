"""The review grid: blurred thumbnails, the audited reveal, grading (bulk and cluster), confirmation, filters,
preferences and the break reminder."""

from __future__ import annotations

import io
import re
import stat
from collections.abc import Callable

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image

from safenet.case.gradings import Grade, current_gradings
from safenet.users import UserStore
from safenet.web import WebSettings, create_app
from safenet.web.settings import DEFAULT_THUMB_SIZE
from tests.web.conftest import PASSWORD, Browser, Built, Clock

pytestmark = pytest.mark.usefixtures("case_db")  # SQLite and PostgreSQL (tests/pgcase.py)


def _energy(image: Image.Image) -> float:
    """Mean absolute Laplacian: high-frequency detail, which blur removes (a smooth gradient has none)."""
    a = np.asarray(image.convert("L"), dtype=np.float64)
    laplacian = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.abs(laplacian).mean())


def test_thumbnails_are_blurred_greyscale_and_small(login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    original_bytes = (built.evidence / "other.jpg").read_bytes()
    response = client.get(f"/media/thumb/{built.ids['other.jpg']}")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    served = response.content
    assert served != original_bytes
    thumb = Image.open(io.BytesIO(served))
    assert thumb.mode == "L" and max(thumb.size) <= DEFAULT_THUMB_SIZE
    original = Image.open(io.BytesIO(original_bytes))
    same_size = original.convert("L").resize(thumb.size, Image.Resampling.BILINEAR)
    assert _energy(thumb) < 0.4 * _energy(same_size), (_energy(thumb), _energy(same_size))
    cached = list((built.case / "thumbs" / "review").glob(f"{built.ids['other.jpg']}-*.jpg"))
    assert len(cached) == 1 and stat.S_IMODE(cached[0].stat().st_mode) == 0o600
    assert cached[0].read_bytes() == served
    assert client.get(f"/media/thumb/{built.ids['other.jpg']}").content == served  # from the cache


def test_preferences_change_size_and_blur_but_never_turn_blur_off(
    login: Callable[[str], Browser], built: Built
) -> None:
    client = login("alice")
    item = built.ids["other.jpg"]
    light = client.post("/settings", data={"size": "192", "blur": "1", "csrf_token": client.csrf})
    assert light.status_code == 303
    big = Image.open(io.BytesIO(client.get(f"/media/thumb/{item}").content))
    assert big.mode == "L" and max(big.size) == 192
    original = Image.open(built.evidence / "other.jpg").convert("L").resize(big.size, Image.Resampling.BILINEAR)
    assert _energy(big) < 0.5 * _energy(original)
    refused = client.post("/settings", data={"size": "1024", "blur": "0", "csrf_token": client.csrf})
    assert refused.status_code == 400
    assert "192 px" in client.page("/review")


def test_the_clear_picture_only_after_an_audited_reveal_for_that_session_for_a_short_time(
    app: FastAPI, login: Callable[[str], Browser], built: Built, clock: Clock
) -> None:
    client = login("alice")
    item, other = built.ids["other.jpg"], built.ids["dup-big.jpg"]
    assert client.get(f"/media/clear/{item}").status_code == 403
    response = client.api(f"/api/items/{item}/reveal", {"step": "colour"})
    url = f"/media/clear/{item}?step=colour"
    assert response.status_code == 200 and response.json()["url"] == url
    [entry] = [e for e in app.state.web.case.audit.entries() if e["event"] == "item-revealed"]
    assert entry["data"]["item"] == item and entry["data"]["user"] == "alice" and entry["ts"]
    clear = client.get(url)
    assert clear.status_code == 200 and Image.open(io.BytesIO(clear.content)).mode == "RGB"
    assert client.get(f"/media/clear/{other}?step=colour").status_code == 403  # only the revealed item
    assert login("alice").get(url).status_code == 403  # only in that session
    assert login("bob").get(url).status_code == 403  # only to that user
    client.api(f"/api/items/{other}/reveal", {"step": "colour"})
    assert client.get(url).status_code == 403  # one item at a time
    clock.advance(seconds=61)
    assert client.get(f"/media/clear/{other}?step=colour").status_code == 403  # for a short time
    assert app.state.web.case.audit.verify().ok


def test_grade_a_selection_then_a_reviewer_confirms(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    examiner = login("alice")
    ids = [built.ids["other.jpg"], built.ids["dup-big.jpg"]]
    response = examiner.api("/api/grade", {"grade": "C", "item_ids": ids})
    assert response.status_code == 200 and [g["grade"] for g in response.json()["graded"]] == ["C", "C"]
    grades = current_gradings(app.state.web.case)
    assert {i: (grades[i].grade, grades[i].examiner) for i in ids} == {i: (Grade.C, "alice") for i in ids}
    assert examiner.api("/api/confirm", {"item_ids": ids}).status_code == 403  # an examiner does not confirm
    reviewer = login("bob")
    for item in ids:  # a confirmer must have been shown the item
        assert reviewer.api(f"/api/items/{item}/reveal", {"step": "grey"}).status_code == 200
    confirmed = reviewer.api("/api/confirm", {"item_ids": ids})
    assert confirmed.status_code == 200 and len(confirmed.json()["confirmed"]) == 2
    assert current_gradings(app.state.web.case)[ids[0]].confirmed_by == "bob"
    assert reviewer.api("/api/grade", {"grade": "A", "item_ids": ids}).status_code == 403
    events = [e["event"] for e in app.state.web.case.audit.entries()]
    assert events.count("item-graded") == 2 and events.count("grading-confirmed") == 2


def test_grade_a_whole_cluster(app: FastAPI, login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    page = client.page("/review")
    cluster = {built.ids["dup-big.jpg"], built.ids["dup-small.png"]}
    [cluster_id] = {int(c) for i in cluster for c in re.findall(rf'data-item="{i}"[^>]*?data-cluster="(\d+)"', page)}
    # a cluster grade names the members shown in the cluster view (B1's cluster rules: test_grading_api.py)
    response = client.api("/api/grade", {"grade": "B", "cluster_id": cluster_id, "item_ids": sorted(cluster)})
    assert response.status_code == 200
    assert {g["item_id"] for g in response.json()["graded"]} == cluster
    assert set(current_gradings(app.state.web.case)) == cluster


def test_bad_grades_and_unknown_items_are_refused(login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    assert client.api("/api/grade", {"grade": "Z", "item_ids": [built.ids["other.jpg"]]}).status_code == 422
    assert client.api("/api/grade", {"grade": "A", "item_ids": [999999]}).status_code == 409
    assert client.api("/api/grade", {"grade": "A", "item_ids": [built.ids["notes.txt"]]}).status_code == 409
    assert client.api("/api/grade", {"grade": "A"}).status_code == 400
    assert client.get("/media/thumb/999999").status_code == 404


def test_matched_items_are_hidden_unless_asked_and_filters_work(login: Callable[[str], Browser]) -> None:
    client = login("alice")
    page = client.page("/review")
    assert "trusted.jpg" not in page and "other.jpg" in page and "notes.txt" not in page
    assert "trusted.jpg" in client.page("/review?matched=1")
    assert "trusted.jpg" in client.page("/review?matched=1&match=exact")
    assert "other.jpg" not in client.page("/review?matched=1&match=exact")
    assert "other.jpg" in client.page("/review?exhibit=EX1&state=live&media=image&category=ungraded&match=none")
    assert "other.jpg" not in client.page("/review?state=deleted")
    assert "other.jpg" not in client.page("/review?media=video")
    assert "other.jpg" not in client.page("/review?exhibit=EX2")
    assert client.get("/review?state=bogus").status_code == 422


def test_break_reminder_after_an_hour_of_review(login: Callable[[str], Browser], built: Built, clock: Clock) -> None:
    client = login("alice")
    assert '<aside id="break" class="break" role="alert" hidden>' in client.page("/review")
    for _ in range(59):  # the page polls the status every minute
        clock.advance(minutes=1)
        assert client.get("/api/status").json()["break_due"] is False
    clock.advance(minutes=1)
    assert client.get("/api/status").json()["break_due"] is True
    assert '<aside id="break" class="break" role="alert">' in client.page("/review")
    graded = client.api("/api/grade", {"grade": "C", "item_ids": [built.ids["other.jpg"]]})
    assert graded.json()["break_due"] is True
    assert client.post("/break", data={"csrf_token": client.csrf}).status_code == 303
    assert client.get("/api/status").json()["break_due"] is False


def test_preferences_survive_a_restart_per_user(
    app: FastAPI, login: Callable[[str], Browser], built: Built, users: UserStore, clock: Clock
) -> None:
    if (built.case / "database.url").exists():
        pytest.skip("PostgreSQL: preferences are kept in the database (tests/web/test_shared_state.py)")
    client = login("alice")
    assert client.post("/settings", data={"size": "192", "blur": "3", "csrf_token": client.csrf}).status_code == 303
    saved = built.case / "review-preferences.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    app.state.web.case.close()
    restarted = create_app(built.case, users, WebSettings(clock=clock))
    try:
        again = Browser(restarted, follow_redirects=False)
        again.page("/login")
        again.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": again.csrf})
        thumb = Image.open(io.BytesIO(again.get(f"/media/thumb/{built.ids['other.jpg']}").content))
        assert max(thumb.size) == 192
        assert (restarted.state.web.prefs("alice").size, restarted.state.web.prefs("bob").size) == (192, 128)
    finally:
        restarted.state.web.case.close()
    saved.write_text("{not json")  # a damaged file gives the defaults, never an error
    damaged = create_app(built.case, users, WebSettings(clock=clock))
    assert damaged.state.web.prefs("alice").size == 128
    damaged.state.web.case.close()
