"""Grading by keyboard in a real browser (Playwright + Debian's Chromium): each defect of issue 12 that
put a grade on the wrong item, lost it, or changed items nobody looked at is reproduced here.

The 20-key test runs against a server that holds every grade request for 200 ms (a wrapper around the app,
in this test only), so the key presses arrive long before their answers.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from safenet.case.gradings import Grade, current_gradings, grade_items, record_reveal
from safenet.case.store import Case
from safenet.demo import picture
from safenet.engine.executors import ExecutorKind
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, User, UserStore
from safenet.web import WebSettings, create_app
from tests.builders import write
from tests.datafiles import DATA
from tests.web import browser_support
from tests.web.browser_support import log_in, poll, serve
from tests.web.conftest import Built, Clock, encode

pytestmark = pytest.mark.slow
server, browser_page = browser_support.server, browser_support.browser_page  # fixtures

ERIN = User("erin", Role.EXAMINER, Clock().now)


class DelayedGrades:
    """Holds each POST /api/grade for ``seconds`` before the app sees it: a slow server, for the test."""

    def __init__(self, app: FastAPI, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/grade":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def many_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case of 24 unknown benign pictures (no hash-set hits, no clusters)."""
    root = tmp_path_factory.mktemp("many")
    for seed in range(24):
        write(root / "ev", f"p{seed:02d}.jpg", encode(picture(100 + seed, (80, 60))))
    case = Case.create_or_open(root / "case")
    store = HashSetStore(root / "db")
    triage(root / "ev", case, store, TriageOptions(exhibit="EX1", operator="t", executor=ExecutorKind.INLINE))
    case.close()
    return root / "case"


def _serve_many(
    template: Path, tmp_path: Path, users: UserStore, settings: WebSettings, delay: float
) -> Iterator[tuple[str, Path]]:
    case = tmp_path / "case"
    shutil.copytree(template, case)
    application = create_app(case, users, settings)
    try:
        for url in serve(DelayedGrades(application, delay)):
            yield url, case
    finally:
        application.state.web.case.close()


@pytest.fixture
def slow_server(many_template: Path, tmp_path: Path, users: UserStore, clock: Clock) -> Iterator[tuple[str, Path]]:
    yield from _serve_many(many_template, tmp_path, users, WebSettings(clock=clock), 0.2)


@pytest.fixture
def paged_server(many_template: Path, tmp_path: Path, users: UserStore, clock: Clock) -> Iterator[tuple[str, Path]]:
    yield from _serve_many(many_template, tmp_path, users, WebSettings(clock=clock, page_size=10), 0.05)


def _grid_ids(page: Any) -> list[int]:
    return [int(i) for i in page.evaluate("Array.from(document.querySelectorAll('.card')).map(c => c.dataset.item)")]


def _grades(case_path: Path) -> dict[int, Grade]:
    case = Case.open_existing(case_path)
    try:
        return {i: r.grade for i, r in current_gradings(case).items()}
    finally:
        case.close()


def test_defect_1_twenty_fast_keys_grade_exactly_twenty_items_in_order(
    slow_server: tuple[str, Path], browser_page: object
) -> None:
    url, case_path = slow_server
    page: Any = browser_page
    log_in(page, url, "alice")
    ids = _grid_ids(page)
    assert len(ids) == 24
    page.locator(f'.card[data-item="{ids[0]}"]').focus()
    for _ in range(20):
        page.keyboard.press("n")
        page.wait_for_timeout(10)
    # the focus moved on with every key, before any answer came
    assert page.evaluate("document.activeElement.dataset.item") == str(ids[20])
    poll(page, "document.querySelectorAll('.card.pending').length === 0", seconds=30)
    assert _grades(case_path) == dict.fromkeys(ids[:20], Grade.NON_INDECENT)
    case = Case.open_existing(case_path)
    try:
        graded = [e["data"]["item"] for e in case.audit.entries() if e["event"] == "item-graded"]
    finally:
        case.close()
    assert graded == ids[:20]  # one request each, in key order
    assert page.locator(".card.failed").count() == 0
    texts = page.evaluate("Array.from(document.querySelectorAll('.card .grade')).map(g => g.textContent)")
    assert texts == ["non-indecent"] * 20 + ["ungraded"] * 4
    assert page.locator("#to-grade").text_content() == "4"  # live counts


def test_defect_1_a_refused_grade_marks_its_card_and_says_so(
    slow_server: tuple[str, Path], browser_page: object
) -> None:
    url, case_path = slow_server
    page: Any = browser_page
    log_in(page, url, "alice")
    ids = _grid_ids(page)
    # the item disappears from the grid's point of view: the server refuses its grade
    page.evaluate(f"document.querySelector('.card[data-item=\"{ids[1]}\"]').dataset.item = '999999'")
    page.locator(f'.card[data-item="{ids[0]}"]').focus()
    for _ in range(3):
        page.keyboard.press("c")
    poll(page, "document.querySelectorAll('.card.pending').length === 0", seconds=30)
    failed = page.locator(".card.failed")
    assert failed.count() == 1 and "not graded" in (failed.locator(".state").text_content() or "")
    assert failed.locator(".grade").text_content() == "ungraded"
    assert _grades(case_path) == {ids[0]: Grade.C, ids[2]: Grade.C}


def test_defect_2_a_stale_selection_never_takes_the_grade(
    server: str, browser_page: object, built: Built, app: FastAPI
) -> None:
    page: Any = browser_page
    log_in(page, server, "alice")
    ids = _grid_ids(page)
    x, y = ids[0], ids[1]
    page.locator(f'.card[data-item="{x}"]').focus()
    page.keyboard.press(" ")
    assert page.locator(".card.selected").count() == 1
    page.keyboard.press("ArrowRight")  # focus leaves the selection: it is dropped
    assert page.locator(".card.selected").count() == 0
    page.keyboard.press("c")
    poll(page, "document.querySelectorAll('.card.pending').length === 0")
    assert {i: r.grade for i, r in current_gradings(app.state.web.case).items()} == {y: Grade.C}
    message = page.locator("#message").text_content() or ""
    assert f"item {y} " in message and f"item {x} " not in message
    # Shift+arrows select a range; the grade goes to the range when the focus is in it, then it is cleared
    page.locator(f'.card[data-item="{ids[2]}"]').focus()
    page.keyboard.press("Shift+ArrowRight")
    assert page.locator(".card.selected").count() == 2
    page.keyboard.press("b")
    poll(page, "document.querySelectorAll('.card.pending').length === 0")
    assert page.locator(".card.selected").count() == 0
    graded = {i: r.grade for i, r in current_gradings(app.state.web.case).items()}
    assert graded == {y: Grade.C, ids[2]: Grade.B, ids[3]: Grade.B}
    assert "2 items" in (page.locator("#message").text_content() or "")


def test_defect_2_a_refused_confirmation_leaves_no_selection(
    server: str, browser_page: object, built: Built, app: FastAPI
) -> None:
    page: Any = browser_page
    case = app.state.web.case
    log_in(page, server, "bob")
    ids = _grid_ids(page)
    grade_items(case, ids[:2], Grade.C, ERIN)
    page.locator(f'.card[data-item="{ids[0]}"]').focus()
    page.keyboard.press(" ")
    page.keyboard.press("y")  # refused: bob was never shown the item
    poll(page, "document.getElementById('message').textContent.includes('Not confirmed')")
    assert "has not been shown" in (page.locator("#message").text_content() or "")
    assert page.locator(".card.selected").count() == 0
    record_reveal(case, ids[1], User("bob", Role.REVIEWER, Clock().now), step="grey")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("y")
    poll(page, "document.getElementById('message').textContent.startsWith('Confirmed')")
    confirmed = {i: r.confirmed_by for i, r in current_gradings(case).items()}
    assert confirmed == {ids[0]: None, ids[1]: "bob"}  # the refused one did not capture the next key


def test_defect_3_cluster_grading_only_in_the_cluster_view_asks_before_overwriting_and_undoes(
    server: str, browser_page: object, built: Built, app: FastAPI
) -> None:
    page: Any = browser_page
    case = app.state.web.case
    big, small = built.ids["dup-big.jpg"], built.ids["dup-small.png"]
    grade_items(case, [small], Grade.A, ERIN)
    log_in(page, server, "alice")
    page.locator(f'.card[data-item="{big}"]').focus()
    page.keyboard.press("Shift+N")  # in the grid: refused, nothing graded
    assert "cluster view" in (page.locator("#message").text_content() or "")
    assert set(current_gradings(case)) == {small}
    page.keyboard.press("e")
    page.wait_for_url("**/review?cluster=*")
    assert page.locator(".card").count() == 2
    assert "All members are in EX1" in page.locator("main").text_content()
    dialogs: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.keyboard.press("Shift+N")
    poll(page, "document.getElementById('message').textContent.startsWith('Nothing graded')")
    assert f"item {small} " in dialogs[0] and "is A (erin)" in dialogs[0]
    assert {i: r.grade for i, r in current_gradings(case).items()} == {small: Grade.A}
    assert page.locator(f'.card[data-item="{small}"] .grade').text_content() == "A"
    page.once("dialog", lambda d: answer(d, True))
    page.keyboard.press("Shift+N")
    poll(page, "document.getElementById('message').textContent.startsWith('Graded 2 items')")
    assert {i: (r.grade, r.examiner) for i, r in current_gradings(case).items()} == {
        big: (Grade.NON_INDECENT, "alice"),
        small: (Grade.NON_INDECENT, "alice"),
    }
    page.keyboard.press("Control+z")
    poll(page, "document.getElementById('message').textContent.startsWith('Undone')")
    assert {i: (r.grade, r.examiner) for i, r in current_gradings(case).items()} == {small: (Grade.A, "erin")}
    assert page.locator(f'.card[data-item="{big}"] .grade').text_content() == "ungraded"


def test_defect_4_and_6_keys_act_on_the_revealed_item_and_the_dialog_closes_recorded(
    server: str, browser_page: object, built: Built, app: FastAPI
) -> None:
    page: Any = browser_page
    case = app.state.web.case
    log_in(page, server, "alice")
    ids = _grid_ids(page)
    x = ids[0]
    page.locator(f'.card[data-item="{x}"]').focus()
    page.keyboard.press("r")
    dialog = page.locator("dialog#reveal")
    poll(page, "document.getElementById('reveal').open")
    assert f"item {x} " in (page.locator("#reveal-title").text_content() or "") or "EX1" in (
        page.locator("#reveal-title").text_content() or ""
    )
    page.keyboard.press("ArrowRight")  # a modal dialog: the grid does not move behind it
    page.keyboard.press("c")
    poll(page, "document.querySelectorAll('.card.pending').length === 0 && !document.getElementById('reveal').open")
    assert not dialog.evaluate("d => d.open")
    assert {i: r.grade for i, r in current_gradings(case).items()} == {x: Grade.C}
    closed = [e["data"] for e in case.audit.entries() if e["event"] == "reveal-closed"]
    assert closed and closed[-1]["item"] == x and closed[-1]["reason"] == "navigated"
    # Esc closes it too, recorded as closed
    page.keyboard.press("r")
    poll(page, "document.getElementById('reveal').open")
    page.keyboard.press("Escape")
    poll(page, "!document.getElementById('reveal').open")
    poll_audit(case, "closed")


def poll_audit(case: Case, reason: str) -> None:
    browser_support.wait_until(
        lambda: any(e["event"] == "reveal-closed" and e["data"]["reason"] == reason for e in case.audit.entries())
    )


def test_defect_6_the_reveal_closes_itself_at_the_time_the_server_gave(
    built: Built, users: UserStore, clock: Clock, browser_page: object
) -> None:
    from datetime import timedelta

    application = create_app(built.case, users, WebSettings(clock=clock, reveal_for=timedelta(seconds=1)))
    page: Any = browser_page
    try:
        for url in serve(application):
            log_in(page, url, "alice")
            page.keyboard.press("r")
            poll(page, "document.getElementById('reveal').open")
            poll(page, "!document.getElementById('reveal').open", seconds=10)
            assert page.evaluate("document.getElementById('reveal-image').getAttribute('src')") is None
            poll_audit(application.state.web.case, "expired")
    finally:
        application.state.web.case.close()


def test_defect_8_and_15_cards_name_the_item_and_keep_thumbnails_square(
    server: str, browser_page: object, built: Built
) -> None:
    page: Any = browser_page
    log_in(page, server, "alice")
    card = page.locator(f'.card[data-item="{built.ids["other.jpg"]}"]')
    assert "EX1" in card.text_content() and "live" in card.locator(".source").text_content()
    alts = page.evaluate("Array.from(document.querySelectorAll('.card img')).map(i => i.alt)")
    assert len(set(alts)) == len(alts)  # one alt text per item
    poll(page, "Array.from(document.querySelectorAll('.card img')).every(i => i.complete)")
    boxes = page.evaluate(
        "Array.from(document.querySelectorAll('.card .thumb')).map(b => [b.clientWidth, b.clientHeight])"
    )
    assert boxes and all(box == [128, 128] for box in boxes)
    fits = page.evaluate("Array.from(document.querySelectorAll('.card img')).map(i => getComputedStyle(i).objectFit)")
    assert set(fits) == {"contain"}
    assert page.locator("h1").count() == 1


def test_defect_16_next_ungraded_next_page_and_undo_keys(paged_server: tuple[str, Path], browser_page: object) -> None:
    url, case_path = paged_server
    page: Any = browser_page
    log_in(page, url, "alice")
    ids = _grid_ids(page)
    assert len(ids) == 10
    page.keyboard.press("a")
    page.keyboard.press("b")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("g")  # next ungraded: skips the two graded ones
    assert page.evaluate("document.activeElement.dataset.item") == str(ids[2])
    page.keyboard.press("z")  # undo the last grade (B on the second item)
    poll(page, "document.getElementById('message').textContent.startsWith('Undone')")
    assert _grades(case_path) == {ids[0]: Grade.A}
    page.keyboard.press("]")  # next page, once every grade is stored
    page.wait_for_url("**page=2")
    assert _grid_ids(page)[0] not in ids


@pytest.fixture(scope="module")
def media_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case of one benign corpus video and one animated GIF."""
    root = tmp_path_factory.mktemp("media")
    (root / "ev").mkdir()
    shutil.copy(DATA / "media" / "video" / "realshort.mp4", root / "ev" / "clip.mp4")
    shutil.copy(DATA / "media" / "video" / "newtonscradle.gif", root / "ev" / "cradle.gif")
    case = Case.create_or_open(root / "case")
    triage(
        root / "ev",
        case,
        HashSetStore(root / "db"),
        TriageOptions(exhibit="EX1", operator="t", executor=ExecutorKind.INLINE),
    )
    case.close()
    return root / "case"


def test_videos_and_gifs_reveal_one_frame_chosen_from_the_frame_strip(
    media_template: Path, tmp_path: Path, users: UserStore, clock: Clock, browser_page: object
) -> None:
    page: Any = browser_page
    for url, case_path in _serve_many(media_template, tmp_path, users, WebSettings(clock=clock), 0):
        log_in(page, url, "alice")
        for name, media in (("clip.mp4", "video"), ("cradle.gif", "image")):
            card = page.locator(".card", has_text=name)
            assert card.get_attribute("data-frames") == "yes" and card.get_attribute("data-media") == media
            card.focus()
            page.keyboard.press("r")
            poll(page, "document.getElementById('reveal').open")
            poll(page, "document.querySelectorAll('#frame-strip button').length > 1")
            page.locator("#frame-strip button").nth(1).click()
            poll(page, "document.getElementById('reveal-image').getAttribute('src').includes('frame=1')")
            # the video is graded from its reveal: the grade names the frames shown (issue 12 item 5)
            page.keyboard.press("b" if media == "video" else "Escape")
            poll(page, "!document.getElementById('reveal').open")
            if media == "video":
                poll(page, "document.getElementById('message').textContent.includes('on frames 0, 1')")
        case = Case.open_existing(case_path)
        try:
            frames = [e["data"]["frame"] for e in case.audit.entries() if e["event"] == "item-revealed"]
            graded = [e["data"] for e in case.audit.entries() if e["event"] == "item-graded"]
        finally:
            case.close()
        assert frames[1] == 1 and frames[3] == 1  # each item: the first frame, then the one chosen
        assert [(g["grade"], g["frames"]) for g in graded] == [("B", [0, 1])]
