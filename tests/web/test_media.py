"""Review media: the graded, expiring, audited reveal; HEIC/AVIF; videos and animated GIFs by frames.

The moving-picture case holds a video (its triage sheet removed, as for an exactly matched video whose
frames triage never decodes), an animated GIF, HEIF and AVIF pictures from Pillow's test suite and a HEIF
cut short (undecodable). Built once per session, copied per test.
"""

from __future__ import annotations

import io
import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image

from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.hashsets.store import HashSetStore
from safenet.users import Role, UserStore
from safenet.web import WebSettings, create_app
from tests.datafiles import DATA
from tests.web.conftest import PASSWORD, Browser, Built, Clock

AVIF = DATA / "media" / "pillow" / "avif"
VIDEO = DATA / "media" / "video"


def _energy(image: Image.Image) -> float:
    a = np.asarray(image.convert("L"), dtype=np.float64)
    laplacian = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.abs(laplacian).mean())


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def _events(app: FastAPI, name: str) -> list[dict[str, object]]:
    return [e["data"] for e in app.state.web.case.audit.entries() if e["event"] == name]


# -- the graded reveal on the shared case ---------------------------------------------------------
def test_graded_reveal_steps_are_each_audited_and_named(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    client = login("alice")
    item = built.ids["other.jpg"]
    shown: dict[str, Image.Image] = {}
    for step in ("large-blurred", "grey", "colour"):
        response = client.api(f"/api/items/{item}/reveal", {"step": step, "frame": None})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["url"] == f"/media/clear/{item}?step={step}" and body["step"] == step and body["frame"] is None
        assert body["seconds"] == 60 and body["label"].startswith("EX1 › ") and "/other.jpg" in body["label"]
        picture = client.get(body["url"])
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
        shown[step] = _image(picture.content)
        assert client.get(f"/media/clear/{item}?step=colour").status_code == (200 if step == "colour" else 403)
    assert (shown["large-blurred"].mode, shown["grey"].mode, shown["colour"].mode) == ("L", "L", "RGB")
    original = Image.open(built.evidence / "other.jpg").convert("L")
    assert shown["grey"].size == shown["colour"].size == original.size  # clear: the picture's own size (≤ 1024)
    large = shown["large-blurred"]
    assert large.size == original.size  # larger than any thumbnail (up to 512 px; never enlarged)
    assert _energy(large) < 0.4 * _energy(original.resize(large.size, Image.Resampling.BILINEAR))  # still blurred
    audited = _events(app, "item-revealed")
    assert [(e["item"], e["step"], e["frame"]) for e in audited] == [
        (item, "large-blurred", None),
        (item, "grey", None),
        (item, "colour", None),
    ]


def test_the_clear_picture_is_refused_after_expiry_and_closing_is_audited(
    app: FastAPI, login: Callable[[str], Browser], built: Built, clock: Clock
) -> None:
    client = login("alice")
    item, other = built.ids["other.jpg"], built.ids["dup-big.jpg"]
    url = client.api(f"/api/items/{item}/reveal", {"step": "colour"}).json()["url"]
    clock.advance(seconds=59)
    assert client.get(url).status_code == 200
    clock.advance(seconds=2)
    expired = client.get(url)
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]
    assert client.api(f"/api/items/{other}/reveal/close", {"reason": "expired"}).json() == {"closed": False}
    assert client.api(f"/api/items/{item}/reveal/close", {"reason": "expired"}).json() == {"closed": True}
    url = client.api(f"/api/items/{item}/reveal", {"step": "grey"}).json()["url"]
    assert client.api(f"/api/items/{item}/reveal/close", {"reason": "navigated"}).json() == {"closed": True}
    assert client.get(url).status_code == 403  # closed before its expiry: gone at once
    assert client.api(f"/api/items/{item}/reveal/close", {"reason": "bogus"}).status_code == 422
    closed = _events(app, "reveal-closed")
    assert [(e["item"], e["user"], e["reason"]) for e in closed] == [
        (item, "alice", "expired"),
        (item, "alice", "navigated"),
    ]
    assert app.state.web.case.audit.verify().ok


def test_a_demoted_user_gets_no_clear_picture_even_within_the_reveal(
    app: FastAPI, login: Callable[[str], Browser], built: Built
) -> None:
    client = login("alice")
    url = client.api(f"/api/items/{built.ids['other.jpg']}/reveal", {"step": "colour"}).json()["url"]
    assert client.get(url).status_code == 200
    app.state.web.users.set_role("alice", Role.VIEWER)
    assert client.get(url).status_code == 403


def test_a_still_image_has_no_frames(login: Callable[[str], Browser], built: Built) -> None:
    client = login("alice")
    item = built.ids["other.jpg"]
    assert client.get(f"/api/items/{item}/frames").status_code == 409
    refused = client.api(f"/api/items/{item}/reveal", {"step": "colour", "frame": 0})
    assert refused.status_code == 409 and "cannot be displayed" in refused.json()["detail"]


# -- HEIC/AVIF, undecodable items, videos and animated GIFs ---------------------------------------
def _gif_frames() -> bytes:
    """A benign animated GIF: six frames of moving grey bars."""
    frames = []
    for i in range(6):
        a = np.zeros((90, 160), dtype=np.uint8)
        a[:, i * 24 : i * 24 + 30] = 220
        a[i * 12 : i * 12 + 20, :] = 120
        frames.append(Image.fromarray(a).convert("P"))
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=250, loop=0)
    return out.getvalue()


@pytest.fixture(scope="module")
def media_template(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("mediacase")
    ev = root / "ev"
    ev.mkdir()
    shutil.copy(AVIF / "hopper.heif", ev / "phone.heic")
    shutil.copy(AVIF / "hopper.avif", ev / "picture.avif")
    (ev / "cut.heic").write_bytes((AVIF / "hopper.heif").read_bytes()[:400])
    shutil.copy(VIDEO / "realshort.mp4", ev / "clip.mp4")
    (ev / "cut.mp4").write_bytes((VIDEO / "realshort.mp4").read_bytes()[:30_000])
    (ev / "bars.gif").write_bytes(_gif_frames())
    case = Case.create_or_open(root / "case")
    options = TriageOptions(exhibit="EX2", profile=Profile.STANDARD, operator="t", executor=ExecutorKind.INLINE)
    triage(ev, case, HashSetStore(root / "db"), options)
    with case.sessions() as s:
        ids = {row.name: row.id for row in s.query(ItemRow)}
        clip_sha = s.query(ItemRow.sha256).filter(ItemRow.name == "clip.mp4").scalar()
    case.close()
    # as for an exactly matched video: triage decoded no frame of it, so there is no sheet
    (root / "case" / "thumbs" / f"{clip_sha}.jpg").unlink(missing_ok=True)
    return Built(root / "case", ev, ids)


@pytest.fixture
def media_app(media_template: Built, users: UserStore, clock: Clock, tmp_path: Path) -> Iterator[tuple[FastAPI, Built]]:
    target = tmp_path / "mediacase"
    shutil.copytree(media_template.case, target)
    application = create_app(target, users, WebSettings(clock=clock))
    yield application, Built(target, media_template.evidence, media_template.ids)
    application.state.web.case.close()


def _client(app: FastAPI, name: str = "alice") -> Browser:
    client = Browser(app, follow_redirects=False)
    client.page("/login")
    assert (
        client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": client.csrf}).status_code == 303
    )
    client.page("/review")
    return client


def test_heic_and_avif_have_thumbnails_and_reveals(media_app: tuple[FastAPI, Built]) -> None:
    app, built = media_app
    client = _client(app)
    for name in ("phone.heic", "picture.avif"):
        item = built.ids[name]
        assert (built.case / "thumbs" / "review" / f"{item}-128-2.jpg").is_file(), name  # triage decoded it too
        thumb = _image(client.get(f"/media/thumb/{item}").content)
        assert thumb.mode == "L" and thumb.size == (128, 128), name  # the picture (square), not a placeholder
        body = client.api(f"/api/items/{item}/reveal", {"step": "colour"}).json()
        clear = _image(client.get(body["url"]).content)
        assert clear.mode == "RGB" and clear.size == (128, 128), name


def test_an_undecodable_item_cannot_be_displayed_and_is_not_audited_as_shown(media_app: tuple[FastAPI, Built]) -> None:
    app, built = media_app
    client = _client(app)
    item = built.ids["cut.heic"]
    refused = client.api(f"/api/items/{item}/reveal", {"step": "colour"})
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(f"item {item} cannot be displayed: ")
    assert _events(app, "item-revealed") == []
    assert client.get(f"/media/clear/{item}?step=colour").status_code == 403


def test_a_video_without_a_sheet_gets_one_and_frames_at_a_usable_size(media_app: tuple[FastAPI, Built]) -> None:
    app, built = media_app
    client = _client(app)
    item = built.ids["clip.mp4"]
    sheet = client.get(f"/media/sheet/{item}")
    assert sheet.status_code == 200
    made = list((built.case / "thumbs" / "sheets").glob("*.jpg"))
    assert len(made) == 1 and made[0].read_bytes() == sheet.content  # made once, kept in the case
    full = _image(sheet.content)
    assert full.mode == "L" and full.width == 768  # 4 tiles of 192 px: not shrunk
    thumb = _image(client.get(f"/media/thumb/{item}").content)
    assert max(thumb.size) == 128 and thumb.size[0] == 128  # the sheet fitted, aspect kept
    fitted = full.copy()
    fitted.thumbnail((128, 128), Image.Resampling.LANCZOS)
    assert _energy(thumb) > 0.6 * _energy(fitted)  # not blurred a second time
    listing = client.get(f"/api/items/{item}/frames").json()
    assert listing["item_id"] == item and listing["kind"] == "video"
    frames = listing["frames"]
    assert 2 <= len(frames) <= 48 and [f["index"] for f in frames] == list(range(len(frames)))
    assert all(a["time_s"] < b["time_s"] for a, b in itertools.pairwise(frames))
    tile = _image(client.get(f"/media/frame/{item}/1").content)
    assert tile.mode == "L" and max(tile.size) == 256
    assert client.get(f"/media/frame/{item}/{len(frames)}").status_code == 409
    first = client.api(f"/api/items/{item}/reveal", {"step": "large-blurred"}).json()
    assert first["frame"] == 0 and first["url"] == f"/media/clear/{item}?step=large-blurred&frame=0"
    body = client.api(f"/api/items/{item}/reveal", {"step": "colour", "frame": 1}).json()
    assert body["url"] == f"/media/clear/{item}?step=colour&frame=1" and body["frame"] == 1
    assert _image(client.get(body["url"]).content).mode == "RGB"
    assert client.get(f"/media/clear/{item}?step=colour&frame=2").status_code == 403  # only that frame
    assert client.get(first["url"]).status_code == 403  # one reveal at a time
    assert [(e["item"], e["frame"]) for e in _events(app, "item-revealed")] == [(item, 0), (item, 1)]
    beyond = client.api(f"/api/items/{item}/reveal", {"step": "colour", "frame": len(frames)})
    assert beyond.status_code == 409 and "cannot be displayed" in beyond.json()["detail"]


def test_an_animated_gif_shows_its_frame_sheet_and_frames(media_app: tuple[FastAPI, Built]) -> None:
    app, built = media_app
    client = _client(app)
    item = built.ids["bars.gif"]
    first_frame = built.case / "thumbs" / "review" / f"{item}-128-2.jpg"  # triage's thumbnail of frame 1
    served = client.get(f"/media/thumb/{item}").content
    assert served != first_frame.read_bytes()
    sheet = _image(client.get(f"/media/sheet/{item}").content)
    thumb = _image(served)
    assert sheet.width == 768 and thumb.width == 128
    assert abs(thumb.height - round(128 * sheet.height / sheet.width)) <= 1  # the sheet, fitted
    listing = client.get(f"/api/items/{item}/frames").json()
    assert listing["kind"] == "gif" and len(listing["frames"]) >= 4
    one, two = (_image(client.get(f"/media/frame/{item}/{i}").content) for i in (0, 2))
    assert np.asarray(one).tolist() != np.asarray(two).tolist()  # different frames, not frame 1 twice
    body = client.api(f"/api/items/{item}/reveal", {"step": "grey", "frame": 2}).json()
    assert _image(client.get(body["url"]).content).mode == "L"


def test_an_undecodable_video_is_a_placeholder_and_cannot_be_displayed(media_app: tuple[FastAPI, Built]) -> None:
    app, built = media_app
    client = _client(app)
    item = built.ids["cut.mp4"]
    assert client.get(f"/media/thumb/{item}").status_code == 200  # a placeholder tile, never an error page
    for response in (
        client.get(f"/media/sheet/{item}"),
        client.get(f"/api/items/{item}/frames"),
        client.get(f"/media/frame/{item}/0"),
        client.api(f"/api/items/{item}/reveal", {"step": "large-blurred"}),
    ):
        assert response.status_code == 409 and "cannot be displayed" in response.json()["detail"]
    assert _events(app, "item-revealed") == []
