"""Review thumbnails made during triage (standard and full profiles): cached where the UI reads them.

The worker makes the default-settings blurred greyscale thumbnail from the bytes it read, the recorder
writes it into ``thumbs/review/`` under the item's id, and the review grid serves that file as it is.
"""

from __future__ import annotations

import io
import stat
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image

from safenet.analysis.thumbs import DEFAULT_BLUR, DEFAULT_THUMB_SIZE, cache_name
from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.engine.executors import ExecutorKind
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.users import UserStore
from safenet.web import WebSettings, create_app
from safenet.web import thumbs as web_thumbs
from tests.builders import jpeg, write
from tests.web.conftest import PASSWORD, Browser, Clock


def _energy(image: Image.Image) -> float:
    a = np.asarray(image.convert("L"), dtype=np.float64)
    laplacian = 4 * a[1:-1, 1:-1] - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(np.abs(laplacian).mean())


def _triage(tmp_path: Path, profile: Profile, executor: ExecutorKind) -> tuple[Path, Path, dict[str, int]]:
    ev = tmp_path / "ev"
    for seed in range(3):
        write(ev, f"p{seed}.jpg", jpeg(seed, (320, 240)))
    write(ev, "broken.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64)  # JPEG by signature, not decodable
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=profile, operator="t", executor=executor, workers=2)
    triage(ev, case, None, options)
    with case.sessions() as s:
        ids = {row.name: row.id for row in s.query(ItemRow)}
    case.close()
    return tmp_path / "case", ev, ids


@pytest.mark.parametrize("executor", [ExecutorKind.INLINE, ExecutorKind.PROCESSES])
def test_standard_triage_caches_blurred_grey_thumbnails_the_grid_serves_as_they_are(
    tmp_path: Path, users: UserStore, monkeypatch: pytest.MonkeyPatch, executor: ExecutorKind
) -> None:
    case, ev, ids = _triage(tmp_path, Profile.STANDARD, executor)
    folder = case / "thumbs" / "review"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    cached: dict[int, tuple[Path, bytes, int]] = {}
    for seed in range(3):
        path = folder / f"{cache_name(ids[f'p{seed}.jpg'], DEFAULT_THUMB_SIZE, DEFAULT_BLUR)}.jpg"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        thumb = Image.open(path)
        assert thumb.mode == "L" and max(thumb.size) == DEFAULT_THUMB_SIZE
        original = Image.open(ev / f"p{seed}.jpg").convert("L").resize(thumb.size, Image.Resampling.BILINEAR)
        assert _energy(thumb) < 0.4 * _energy(original), (_energy(thumb), _energy(original))
        cached[ids[f"p{seed}.jpg"]] = (path, path.read_bytes(), path.stat().st_mtime_ns)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p, _, _ in cached.values())  # not broken

    def must_not_decode(*args: object, **kwargs: object) -> object:
        raise AssertionError("the grid decoded evidence although triage cached the thumbnail")

    with monkeypatch.context() as patched:
        patched.setattr(web_thumbs.Thumbnailer, "_decode", must_not_decode)
        _serve_cached(case, users, cached, untouched=True)
    # made by the UI itself (the cache emptied), a thumbnail is byte for byte the one triage made
    for path, _, _ in cached.values():
        path.unlink()
    _serve_cached(case, users, cached, untouched=False)


def _serve_cached(case: Path, users: UserStore, cached: dict[int, tuple[Path, bytes, int]], *, untouched: bool) -> None:
    app: FastAPI = create_app(case, users, WebSettings(clock=Clock()))
    try:
        client = Browser(app, follow_redirects=False)
        client.page("/login")
        client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": client.csrf})
        for item_id, (path, data, mtime) in cached.items():
            response = client.get(f"/media/thumb/{item_id}")
            assert response.status_code == 200 and response.content == data
            assert path.read_bytes() == data
            assert (path.stat().st_mtime_ns == mtime) is untouched
    finally:
        app.state.web.case.close()


def test_quick_triage_makes_no_thumbnails_and_the_ui_makes_them_on_first_view(tmp_path: Path, users: UserStore) -> None:
    case, _, ids = _triage(tmp_path, Profile.QUICK, ExecutorKind.INLINE)
    assert not (case / "thumbs" / "review").exists()
    app: FastAPI = create_app(case, users, WebSettings(clock=Clock()))
    try:
        client = Browser(app, follow_redirects=False)
        client.page("/login")
        client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": client.csrf})
        response = client.get(f"/media/thumb/{ids['p0.jpg']}")
        assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).mode == "L"
        assert (case / "thumbs" / "review").is_dir()
    finally:
        app.state.web.case.close()
