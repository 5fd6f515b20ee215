"""Video hashing speed: ``safenet.analysis.video.hash_video`` vs a vPDQ-style baseline, on generated clips.

Clips: benign synthetic content (a scrolling block texture with a moving disc and a sweeping gradient),
H.264 (libx264, ultrafast, yuv420p) at 1080p and 720p, 30 frames/s, generated with PyAV into bench/out/video/
and reused while their spec is unchanged.

Peers, same files, same run:
  safenet   hash_video(path, VideoSettings.full()): decode, sample 1 frame/s by timestamp, reference 512×512
            reduction, PDQ + trimmed variant, collapse.
  vpdq      PyPI ``vpdq`` 0.2.5 (``computeHash(path, seconds_per_hash=1)``, its own libav decoding and C++ PDQ at
            full resolution, its default thread count). No wheel: ``make bench`` builds it from source
            (``make sysdeps`` installs cmake, g++ and the libav* headers). Left out, and said so, when absent.
  baseline  what vPDQ does, in Python: PyAV decodes every frame, every fps-th one is converted to RGB and
            hashed at full resolution with ``pdqhash`` (no 512 reduction).
Agreement: Hamming distance between Safenet's frame hash and the peer's for the same frame (same timestamp:
the clips are constant 30 frames/s, so vpdq's frame_number / fps and PyAV's timestamps coincide); a
collapsed Safenet frame stands for each of the seconds it covers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import av
import numpy as np
import pdqhash

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import OUT_DIR, host_info, print_table, read_manifest, write_manifest
from safenet.analysis.pdq import hamming
from safenet.analysis.video import VideoSettings, hash_video

GENERATOR = 1
FPS = 30
SIZES = {"1080p": (1920, 1080), "720p": (1280, 720)}


def generate(path: Path, size: tuple[int, int], seconds: int, seed: int) -> None:
    width, height = size
    rng = np.random.default_rng(seed)
    texture = np.kron(rng.integers(0, 256, (height // 24 + 1, 2 * width // 24 + 1, 3)), np.ones((24, 24, 1)))
    texture = texture.astype(np.uint8)[:height]
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "g": str(2 * FPS)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * FPS):
            shift = (i * 7) % width
            frame = texture[:, shift : shift + width].copy()
            cx, cy = width * (0.5 + 0.4 * np.sin(i / 40)), height * (0.5 + 0.3 * np.cos(i / 29))
            disc = (x - cx) ** 2 + (y - cy) ** 2 < (height / 6) ** 2
            frame[disc] = (255 * ((x[disc] + i * 5) % width) // width)[:, None].astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def clips(count: int, seconds: int) -> list[tuple[str, Path]]:
    folder = OUT_DIR / "video"
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"generator": GENERATOR, "count": count, "seconds": seconds, "fps": FPS, "sizes": SIZES}
    manifest = folder / "clips.manifest.json"
    found = [(label, folder / f"{label}_{n}.mp4") for label in SIZES for n in range(count)]
    if read_manifest(manifest) != json.loads(json.dumps(spec)) or not all(p.exists() for _, p in found):
        for n, (label, path) in enumerate(found):
            generate(path, SIZES[label], seconds, seed=n)
        write_manifest(manifest, spec)
    return found


Hashes = list[tuple[float, bytes]]  # (seconds, PDQ) per sampled frame


def baseline(path: Path) -> Hashes:
    """vPDQ's procedure: every frame decoded, every FPS-th one hashed at full resolution."""
    hashes = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for number, frame in enumerate(container.decode(stream)):
            if number % FPS == 0:
                vector, _ = pdqhash.compute(frame.to_ndarray(format="rgb24"))
                hashes.append((number / FPS, np.packbits(vector.astype(np.uint8)).tobytes()))
    return hashes


def vpdq_hashes(path: Path) -> Hashes:
    import vpdq  # type: ignore[import-not-found,unused-ignore]

    return [(f.timestamp, bytes.fromhex(f.hex)) for f in vpdq.computeHash(str(path), seconds_per_hash=1)]


def safenet_hashes(path: Path) -> tuple[Hashes, bool]:
    result = hash_video(path, VideoSettings.full())
    step = 1.0 / VideoSettings.full().rate_fps
    return [(f.timestamp_s + k * step, f.pdq) for f in result.frames for k in range(f.count)], result.complete


def agreement(ours: Hashes, peer: Hashes) -> list[int]:
    """Hamming distance per frame both hashed (timestamps within half a frame interval)."""
    by_time = {round(t * FPS): h for t, h in peer}
    return [hamming(h, by_time[round(t * FPS)]) for t, h in ours if round(t * FPS) in by_time]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 clip of 6 s per size instead of 2 of 20 s")
    args = parser.parse_args()
    count, seconds = (1, 6) if args.quick else (2, 20)
    figures: dict[str, Any] = {"bench": "video", "host": host_info(), "clips_per_size": count, "seconds": seconds}
    peers: dict[str, Callable[[Path], Hashes]] = {"baseline": baseline}
    vpdq_version = _vpdq_version()
    if vpdq_version is not None:
        peers["vpdq"] = vpdq_hashes
    figures["vpdq"] = vpdq_version or "not installed (no wheel on PyPI: make bench builds it from source)"
    rows, ok = [], True
    for label in SIZES:
        paths = [p for lab, p in clips(count, seconds) if lab == label]
        ours_s, frames, decoded = 0.0, 0, 0
        peer_s = dict.fromkeys(peers, 0.0)
        distances: dict[str, list[int]] = {name: [] for name in peers}
        for path in paths:
            started = time.perf_counter()
            ours, complete = safenet_hashes(path)
            ours_s += time.perf_counter() - started
            ok &= complete and len(ours) == seconds
            frames += len(ours)
            decoded += seconds * FPS
            for name, peer in peers.items():
                started = time.perf_counter()
                theirs = peer(path)
                peer_s[name] += time.perf_counter() - started
                found = agreement(ours, theirs)
                ok &= len(found) == len(ours)
                distances[name] += found
        entry: dict[str, Any] = {
            "videos": len(paths),
            "sampled_frames": frames,
            "decoded_frames": decoded,
            "safenet_s": round(ours_s, 3),
            "safenet_frames_hashed_per_s": round(frames / ours_s, 2),
            "safenet_decoded_fps": round(decoded / ours_s, 1),
            "safenet_videos_per_min": round(60 * len(paths) / ours_s, 2),
        }
        for name in peers:
            found = distances[name]
            entry[name] = {
                "s": round(peer_s[name], 3),
                "frames_hashed_per_s": round(frames / peer_s[name], 2),
                "videos_per_min": round(60 * len(paths) / peer_s[name], 2),
                "speedup": round(peer_s[name] / ours_s, 2),  # > 1: Safenet faster
                "agreement_frames": len(found),
                "agreement_mean_bits": round(statistics.mean(found), 2) if found else None,
                "agreement_max_bits": max(found) if found else None,
                "agreement_within_31": round(sum(d <= 31 for d in found) / len(found), 4) if found else None,
            }
            e = entry[name]
            ours_rate, ours_min = entry["safenet_frames_hashed_per_s"], entry["safenet_videos_per_min"]
            rows.append([label, name, len(paths), frames, ours_rate, e["frames_hashed_per_s"], ours_min])
            rows[-1] += [e["videos_per_min"], e["speedup"], e["agreement_mean_bits"], e["agreement_max_bits"]]
        figures[label] = entry
    print(f"peers: {', '.join(peers)} (vpdq: {figures['vpdq']}); clips of {seconds} s at {FPS} frames/s, 1 frame/s")
    headers = ["clip", "peer", "videos", "frames", "safenet f/s", "peer f/s", "safenet v/min", "peer v/min"]
    print_table([*headers, "speed-up", "mean bits", "max bits"], rows)
    figures["peers"], figures["ok"] = list(peers), ok
    print(json.dumps(figures, sort_keys=True))
    return 0 if ok else 1


def _vpdq_version() -> str | None:
    try:
        return version("vpdq")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
