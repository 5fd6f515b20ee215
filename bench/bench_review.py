"""Review grid (issue 7): the grid page with 500 thumbnails, and the blurred-thumbnail generation rate.

Input: 500 benign generated pictures (``safenet.demo.picture``, 640×480, JPEG quality 88) triaged into a
case with a real ``safenet.engine.triage.triage`` run (quick profile, no hash set), near-duplicate
clusters built; kept under ``bench/out/review/`` (git-ignored) and reused while the manifest matches.
A temporary user store (``$SAFENET_USERS``, cheap argon2 settings) holds one examiner, who logs in
through FastAPI's TestClient with the login form's CSRF token, as the web tests do. The app is built with
``page_size`` = the picture count, so one grid page carries every card.

Measured, in process (TestClient: no sockets, so "server time" is the app's time plus Starlette's
in-memory transport):
  grid        GET /review: median of ``--runs-grid`` requests, response bytes
  cold        GET /media/thumb/<id> for every item with the thumbnail cache (``thumbs/review``) emptied
              first: decode, grey, fit, blur, JPEG, cache write
  warm        the same requests again: served from the cache
  direct      ``Thumbnailer.thumbnail`` called without HTTP, cache emptied first (splits off HTTP cost)
  floor       GET /api/status as many times (a logged-in request that does no work: the per-request
              cost of TestClient, session check and middleware)
  peer        plain Pillow over the same files: open → thumbnail(128) → greyscale → GaussianBlur(8) →
              JPEG quality 70 (Safenet's size, blur radius at the default level, and quality)
Evidence files sit in the page cache in every regime (the pass before warms them).

``--keyboard`` (issue 12) measures grading by keyboard in a real browser instead: the app served by uvicorn
on 127.0.0.1, Playwright driving Debian's Chromium, one grid page of every item (``--count``, 1,000 by
default in this mode). Thumbnail cache emptied, then the grid is loaded: time to first thumbnail (from the
navigation start to the end of the first /media/thumb response, the browser's Resource Timing). Then one
"N" key per card, pressed as fast as Playwright sends them, from the first card on: keys per item graded
(goal <= 1.05 for uncontested items), items lost or out of order (goal 0: the audit log's order must be the
grid order), and the server time of each POST /api/grade (an ASGI wrapper times the app's handling).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import OUT_DIR, host_info, median, print_table, read_manifest, write_manifest
from safenet.analysis.thumbs import JPEG_QUALITY
from safenet.case.clusters import build_clusters
from safenet.case.store import Case
from safenet.demo import picture
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.users import Role, UserStore
from safenet.web import WebSettings, create_app
from safenet.web.settings import BLUR_LEVELS, DEFAULT_BLUR, DEFAULT_THUMB_SIZE, Preferences

GENERATOR = 2  # 2: case schema 6
WORK = OUT_DIR / "review"
USER, PASSWORD = "bench", "bench review password"
CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
CARD = re.compile(r'data-item="(\d+)"')


def build(count: int, size: tuple[int, int], seed: int, work: Path = WORK) -> tuple[Path, Path, bool]:
    """The evidence folder and the triaged case; reused when the manifest matches (returns reused=True)."""
    spec = {"count": count, "size": list(size), "seed": seed, "generator": GENERATOR, "profile": "quick"}
    evidence, case_path, manifest = work / "evidence", work / "case", work / "review.manifest.json"
    if read_manifest(manifest) == spec and case_path.is_dir():
        return evidence, case_path, True
    shutil.rmtree(work, ignore_errors=True)
    for n in range(count):
        folder = evidence / "Pictures" / f"{n // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        picture(seed + n, size).save(folder / f"IMG_{n:05d}.jpg", "JPEG", quality=88)
    case = Case.create_or_open(case_path)
    try:
        outcome = triage(evidence, case, None, TriageOptions(exhibit="B1", profile=Profile.QUICK, operator="bench"))
        print(f"triage: {outcome.items_recorded} items in {outcome.seconds:.2f} s ({outcome.status})")
        build_clusters(case)
    finally:
        case.close()
    write_manifest(manifest, spec)
    return evidence, case_path, False


def triage_rate(evidence: Path, profile: Profile, runs: int) -> float:
    """Median items/s of a fresh triage of the evidence folder (standard makes review thumbnails, quick none)."""
    rates = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(dir=WORK, prefix="triage-") as tmp:
            case = Case.create_or_open(Path(tmp) / "case")
            try:
                outcome = triage(evidence, case, None, TriageOptions(exhibit="T", profile=profile, operator="bench"))
            finally:
                case.close()
            rates.append(outcome.items_recorded / outcome.seconds)
    return median(rates)


def login(client: TestClient) -> str:
    """Log in as the bench examiner; returns the grid page's CSRF token."""
    token = CSRF.search(client.get("/login").text)
    assert token, "login page has no CSRF token"
    response = client.post("/login", data={"name": USER, "password": PASSWORD, "csrf_token": token.group(1)})
    if response.status_code != 303:
        raise SystemExit(f"login failed: {response.status_code} {response.text[:200]}")
    page = CSRF.search(client.get("/review").text)
    assert page, "grid page has no CSRF token"
    return page.group(1)


def fetch_all(client: TestClient, ids: list[int]) -> tuple[float, list[bytes], list[str]]:
    errors: list[str] = []
    bodies: list[bytes] = []
    started = time.perf_counter()
    for item in ids:
        response = client.get(f"/media/thumb/{item}")
        if response.status_code != 200 or response.headers.get("content-type") != "image/jpeg":
            errors.append(f"{item}: {response.status_code}")
        bodies.append(response.content)
    return time.perf_counter() - started, bodies, errors


def peer(paths: list[Path], side: int, radius: float) -> tuple[float, int]:
    """Plain Pillow: open → thumbnail → greyscale → GaussianBlur → JPEG; seconds and total bytes."""
    total = 0
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            image.thumbnail((side, side))
            grey = image.convert("L").filter(ImageFilter.GaussianBlur(radius=radius))
        out = io.BytesIO()
        grey.save(out, "JPEG", quality=JPEG_QUALITY)
        total += len(out.getvalue())
    return time.perf_counter() - started, total


def check_thumbnails(bodies: list[bytes], side: int) -> list[str]:
    problems = []
    for n, body in enumerate(bodies):
        with Image.open(io.BytesIO(body)) as thumb:
            if thumb.mode != "L" or max(thumb.size) > side:
                problems.append(f"thumbnail {n}: mode {thumb.mode} size {thumb.size}")
    return problems


class GradeTimer:
    """An ASGI wrapper that times the app's handling of each POST /api/grade (server time per grade)."""

    def __init__(self, app: Any) -> None:
        self.app, self.seconds = app, []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        timed = scope["type"] == "http" and scope["path"] == "/api/grade"
        started = time.perf_counter()
        await self.app(scope, receive, send)
        if timed:
            self.seconds.append(time.perf_counter() - started)


def keyboard(case_path: Path, count: int) -> int:
    """Grade every item of one grid page by keyboard in Chromium; print and return the failures count."""
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    from safenet.case.gradings import Grade, current_gradings

    work_case = WORK / "keyboard-case"
    shutil.rmtree(work_case, ignore_errors=True)
    shutil.copytree(case_path, work_case)  # grades go into a copy: the reused case stays ungraded
    shutil.rmtree(work_case / "thumbs" / "review", ignore_errors=True)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(dir=WORK, prefix="users-") as tmp:
        hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        users = UserStore(Path(tmp) / "users.sqlite", hasher=hasher)
        users.add(USER, Role.EXAMINER, PASSWORD)
        app = create_app(work_case, users, WebSettings(page_size=max(count, 1)))
        timer = GradeTimer(app)
        server = uvicorn.Server(uvicorn.Config(timer, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{url}/login")
                page.fill('input[name="name"]', USER)
                page.fill('input[name="password"]', PASSWORD)
                page.click('button[type="submit"]')
                page.wait_for_url(f"{url}/review")
                page.goto(f"{url}/review")  # timed load (the login's redirect warmed nothing: cache emptied)
                deadline = time.monotonic() + 60
                first_thumb = None
                while first_thumb is None and time.monotonic() < deadline:
                    first_thumb = page.evaluate(
                        "(() => { const t = performance.getEntriesByType('resource')"
                        ".filter(e => e.name.includes('/media/thumb/')).map(e => e.responseEnd);"
                        " return t.length ? Math.min(...t) : null; })()"
                    )
                    page.wait_for_timeout(20)
                cards = "Array.from(document.querySelectorAll('.card')).map(c => c.dataset.item)"
                ids = [int(i) for i in page.evaluate(cards)]
                page.locator(f'.card[data-item="{ids[0]}"]').focus()
                keys = 0
                started = time.perf_counter()
                for _ in ids:
                    page.keyboard.press("n")
                    keys += 1
                pressed_s = time.perf_counter() - started
                pending = "document.querySelectorAll('.card.pending').length"
                while page.evaluate(pending) and time.monotonic() < deadline + 600:
                    page.wait_for_timeout(50)
                stored_s = time.perf_counter() - started
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
            order = [e["data"]["item"] for e in app.state.web.case.audit.entries() if e["event"] == "item-graded"]
            graded = {i: r.grade for i, r in current_gradings(app.state.web.case).items()}
            app.state.web.case.close()
    lost = [i for i in ids if graded.get(i) is not Grade.NON_INDECENT]
    if lost:
        failures.append(f"{len(lost)} items not graded, first {lost[:5]}")
    if order != ids:
        failures.append("the audit log's grading order differs from the grid order")
    per_item = keys / max(len(graded), 1)
    server_ms = sorted(t * 1000 for t in timer.seconds)
    result = {
        "bench": "review-keyboard",
        "items": len(ids),
        "keys": keys,
        "keys_per_item": round(per_item, 3),
        "lost": len(lost),
        "in_order": order == ids,
        "first_thumbnail_ms": round(first_thumb, 1) if first_thumb is not None else None,
        "keys_sent_s": round(pressed_s, 2),
        "all_stored_s": round(stored_s, 2),
        "server_grade_ms": {
            "median": round(median(server_ms), 2),
            "p95": round(server_ms[int(len(server_ms) * 0.95) - 1], 2) if server_ms else None,
            "max": round(server_ms[-1], 2) if server_ms else None,
        },
        "failures": failures,
        "host": {**host_info(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    print(
        f"keyboard grading of {len(ids)} items: {keys} keys, {per_item:.3f} keys/item, {len(lost)} lost, "
        f"in order: {order == ids}; first thumbnail {result['first_thumbnail_ms']} ms after navigation start; "
        f"server time per grade median {result['server_grade_ms']['median']} ms"
    )
    print(json.dumps(result, separators=(",", ":")))
    for failure in failures:
        print(f"FAILED: {failure}")
    return len(failures)


def bulk(case_path: Path, count: int) -> int:
    """One bulk grade of every item (as a selection or cluster grade is), then one undo of all of it, on a
    copy of the case; then ``verify``. Prints seconds per call and per item, and whether the case verifies."""
    from safenet.case.gradings import Grade, grade_items, undo_gradings
    from safenet.case.reviewqueue import review_queue
    from safenet.case.verify import verify_case
    from safenet.users import User

    examiner = User(USER, Role.EXAMINER, datetime.now(UTC))
    with tempfile.TemporaryDirectory(dir=WORK, prefix="bulk-") as tmp:
        shutil.copytree(case_path, Path(tmp) / "case")
        case = Case.open_existing(Path(tmp) / "case")
        try:
            ids = [i.item_id for i in review_queue(case)][:count]
            t0 = time.perf_counter()
            records = grade_items(case, ids, Grade.NON_INDECENT, examiner, overwrite=False)
            graded_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            undo_gradings(case, [r.row_id for r in records if r.row_id is not None], examiner)
            undo_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            verified = verify_case(case)
            verify_s = time.perf_counter() - t0
        finally:
            case.close()
    result = {
        "bench": "review-bulk",
        "items": len(ids),
        "grade_s": round(graded_s, 3),
        "grade_ms_per_item": round(graded_s / len(ids) * 1000, 3),
        "undo_s": round(undo_s, 3),
        "verify_s": round(verify_s, 3),
        "verify_ok": verified.ok,
        "verify_problems": verified.problems[:5],
        "host": {**host_info(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    print(
        f"bulk grade of {len(ids):,} items: {graded_s:.2f} s ({result['grade_ms_per_item']} ms/item); "
        f"undo of all: {undo_s:.2f} s; verify {'ok' if verified.ok else 'FAILED'} in {verify_s:.1f} s"
    )
    print(json.dumps(result, separators=(",", ":")))
    return 0 if verified.ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=None, help="pictures in the case (500; --keyboard: 1,000)")
    parser.add_argument("--keyboard", action="store_true", help="measure keyboard grading in Chromium instead")
    parser.add_argument("--bulk", action="store_true", help="measure one bulk grade and undo of --count items")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--seed", type=int, default=7000)
    parser.add_argument("--runs-grid", type=int, default=5, help="grid page requests (median; default 5)")
    parser.add_argument("--runs", type=int, default=3, help="cold / warm / direct / peer passes (median; default 3)")
    args = parser.parse_args()
    args.count = args.count or (1000 if args.keyboard else 500)
    info = host_info()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.bulk:
        _evidence, case_path, _reused = build(args.count, (args.width, args.height), args.seed, WORK / "bulk")
        return bulk(case_path, args.count)
    if args.keyboard:
        evidence, case_path, _reused = build(args.count, (args.width, args.height), args.seed)
        return 1 if keyboard(case_path, args.count) else 0

    t0 = time.perf_counter()
    evidence, case_path, reused = build(args.count, (args.width, args.height), args.seed)
    print(f"case: {case_path} ({'reused' if reused else 'built'} in {time.perf_counter() - t0:.1f} s)")
    paths = sorted(evidence.rglob("*.jpg"))
    evidence_bytes = sum(p.stat().st_size for p in paths)

    side, blur = DEFAULT_THUMB_SIZE, DEFAULT_BLUR
    radius = max(2.0, side * BLUR_LEVELS[blur])
    failures: list[str] = []
    with tempfile.TemporaryDirectory(dir=WORK, prefix="users-") as tmp:
        users_path = Path(tmp) / "users.sqlite"
        os.environ["SAFENET_USERS"] = str(users_path)
        users = UserStore(users_path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        users.add(USER, Role.EXAMINER, PASSWORD)
        app = create_app(case_path, users, WebSettings(page_size=max(args.count, 1)))
        try:
            client = TestClient(app, follow_redirects=False)
            login(client)

            grid_times, grid_sizes, ids = [], set(), []
            for _ in range(args.runs_grid):
                started = time.perf_counter()
                response = client.get("/review")
                grid_times.append(time.perf_counter() - started)
                if response.status_code != 200:
                    failures.append(f"grid: {response.status_code}")
                grid_sizes.add(len(response.content))
                ids = [int(i) for i in CARD.findall(response.text)]
            if len(ids) != args.count:
                failures.append(f"grid shows {len(ids)} cards, expected {args.count}")
            grid_bytes = max(grid_sizes)

            cache = case_path / "thumbs" / "review"
            cold, warm, direct, bare, floor = [], [], [], [], []
            cold_bodies: list[bytes] = []
            warm_bodies: list[bytes] = []
            peer_bytes = 0
            prefs = Preferences(side, blur)
            for _ in range(args.runs):
                shutil.rmtree(cache, ignore_errors=True)
                seconds, cold_bodies, errors = fetch_all(client, ids)
                cold.append(seconds)
                failures += errors
                seconds, warm_bodies, errors = fetch_all(client, ids)
                warm.append(seconds)
                failures += errors
                shutil.rmtree(cache, ignore_errors=True)
                started = time.perf_counter()
                for item in ids:
                    app.state.web.media.thumbnail(item, prefs)
                direct.append(time.perf_counter() - started)
                seconds, peer_bytes = peer(paths, side, radius)
                bare.append(seconds)
                started = time.perf_counter()
                for _item in ids:  # the same number of trivial logged-in requests: TestClient + session cost
                    client.get("/api/status")
                floor.append(time.perf_counter() - started)
            if cold_bodies != warm_bodies:
                failures.append("warm (cached) thumbnails differ from the cold ones")
            failures += check_thumbnails(cold_bodies, side)
            cached_files = len(list(cache.glob("*.jpg")))
            if cached_files != len(ids):
                failures.append(f"{cached_files} cached thumbnails, expected {len(ids)}")
        finally:
            app.state.web.case.close()
            os.environ.pop("SAFENET_USERS", None)

    n = len(ids) or 1
    thumb_bytes = sum(len(b) for b in cold_bodies)
    cold_s, warm_s, direct_s, peer_s = median(cold), median(warm), median(direct), median(bare)
    floor_s = median(floor)
    passes = {"cold": cold_s, "warm": warm_s, "direct": direct_s, "peer": peer_s, "floor": floor_s}
    rate = {k: n / v for k, v in passes.items()}

    print(
        f"\n{args.count} pictures {args.width}×{args.height} ({evidence_bytes / 1e6:.1f} MB), thumbnails "
        f"{side} px, blur level {blur} (radius {radius:g}), JPEG q{JPEG_QUALITY}; grid page_size {args.count}\n"
    )

    def row(label: str, seconds: float, per_s: str, total: int | None) -> list[str]:
        size = ["", ""] if total is None else [f"{total:,}", f"{total / n:.0f}"]
        shown = f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.3f} s"
        return [label, shown, per_s, *size]

    print_table(
        ["measure", "median", "rate", "bytes", "bytes/item"],
        [
            row("grid page GET /review", median(grid_times), "", grid_bytes),
            row("thumbnails cold (HTTP)", cold_s, f"{rate['cold']:.0f}/s", thumb_bytes),
            row("thumbnails warm (HTTP)", warm_s, f"{rate['warm']:.0f}/s", thumb_bytes),
            row("Thumbnailer direct cold", direct_s, f"{rate['direct']:.0f}/s", None),
            row("floor: GET /api/status", floor_s, f"{rate['floor']:.0f}/s", None),
            row("peer: plain Pillow loop", peer_s, f"{rate['peer']:.0f}/s", peer_bytes),
        ],
    )
    print(
        f"\ncold HTTP / plain Pillow: {rate['cold'] / rate['peer']:.2f}× the peer's rate; "
        f"direct / plain Pillow: {rate['direct'] / rate['peer']:.2f}×; warm / cold: {rate['warm'] / rate['cold']:.1f}×"
    )
    print(f"grid request times (ms): {', '.join(f'{t * 1000:.1f}' for t in grid_times)}")
    for failure in failures[:20]:
        print(f"FAILED: {failure}")

    with_thumbs, without = _triage_rates(evidence, args.runs)
    result: dict[str, Any] = {
        "bench": "review",
        "count": args.count,
        "picture_size": [args.width, args.height],
        "evidence_bytes": evidence_bytes,
        "case_reused": reused,
        "thumb_side": side,
        "blur_level": blur,
        "blur_radius": radius,
        "jpeg_quality": JPEG_QUALITY,
        "grid": {
            "page_size": args.count,
            "cards": len(ids),
            "median_ms": round(median(grid_times) * 1000, 2),
            "times_ms": [round(t * 1000, 2) for t in grid_times],
            "bytes": grid_bytes,
        },
        "thumbs": {
            "cold_s": round(cold_s, 4),
            "warm_s": round(warm_s, 4),
            "direct_cold_s": round(direct_s, 4),
            "cold_per_s": round(rate["cold"], 1),
            "warm_per_s": round(rate["warm"], 1),
            "direct_cold_per_s": round(rate["direct"], 1),
            "floor_api_status_s": round(floor_s, 4),
            "floor_api_status_per_s": round(rate["floor"], 1),
            "total_bytes": thumb_bytes,
            "bytes_per_thumb": round(thumb_bytes / n, 1),
            "runs": args.runs,
        },
        "peer_pillow": {
            "s": round(peer_s, 4),
            "per_s": round(rate["peer"], 1),
            "total_bytes": peer_bytes,
            "bytes_per_thumb": round(peer_bytes / n, 1),
        },
        "triage_items_per_s": {"standard_with_thumbnails": round(with_thumbs, 1), "quick_without": round(without, 1)},
        "ratio_cold_to_peer": round(rate["cold"] / rate["peer"], 3),
        "ratio_direct_to_peer": round(rate["direct"] / rate["peer"], 3),
        "failures": failures,
        "host": {**info, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    print(json.dumps(result, separators=(",", ":")))
    return 1 if failures else 0


def _triage_rates(evidence: Path, runs: int) -> tuple[float, float]:
    with_thumbs = triage_rate(evidence, Profile.STANDARD, runs)
    without = triage_rate(evidence, Profile.QUICK, runs)
    print(
        f"triage of the same pictures: standard (makes thumbnails) {with_thumbs:,.0f} items/s, "
        f"quick (none) {without:,.0f} items/s"
    )
    return with_thumbs, without


if __name__ == "__main__":
    sys.exit(main())
