"""Video hashing speed: ``safenet.analysis.video.hash_video`` vs a vPDQ-style baseline, on generated clips.

Clips: benign synthetic content (a scrolling block texture with a moving disc and a sweeping gradient),
H.264 (libx264, ultrafast, yuv420p) at 1080p and 720p, 30 frames/s, generated with PyAV into bench/out/video/
and reused while their spec is unchanged.

Peers, same files, same run:
  safenet   hash_video(path, VideoSettings.full()): decode, sample 1 frame/s by timestamp, reference 512×512
            reduction, PDQ + trimmed variant, collapse.
  vpdq      PyPI ``vpdq`` (computeHash, 1 s per hash) when it is installed. It ships no wheel (it builds from
            source against system libav*), so it is usually absent and the script says so.
  baseline  what vPDQ does, in Python: PyAV decodes every frame, every fps-th frame is converted to RGB and
            hashed at full resolution with ``pdqhash`` (no 512 reduction).
Agreement: per sampled second, Hamming distance between Safenet's frame hash and the peer's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
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


def baseline(path: Path) -> list[bytes]:
    """vPDQ's procedure: every frame decoded, every FPS-th one hashed at full resolution."""
    hashes = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for number, frame in enumerate(container.decode(stream)):
            if number % FPS == 0:
                vector, _ = pdqhash.compute(frame.to_ndarray(format="rgb24"))
                hashes.append(np.packbits(vector.astype(np.uint8)).tobytes())
    return hashes


def vpdq_hashes(path: Path) -> list[bytes] | None:
    try:
        import vpdq  # type: ignore[import-not-found]
    except ImportError:
        return None
    return [bytes.fromhex(f.hex) for f in vpdq.computeHash(str(path), seconds_per_hash=1)]  # pragma: no cover


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 clip of 6 s per size instead of 2 of 20 s")
    args = parser.parse_args()
    count, seconds = (1, 6) if args.quick else (2, 20)
    figures: dict[str, Any] = {"bench": "video", "host": host_info(), "clips_per_size": count, "seconds": seconds}
    has_vpdq = _has_vpdq()
    figures["vpdq"] = "installed" if has_vpdq else "not installed (no wheel on PyPI; builds from source only)"
    rows, ok = [], True
    for label in SIZES:
        paths = [p for lab, p in clips(count, seconds) if lab == label]
        ours_s = peer_s = 0.0
        frames = decoded = 0
        distances: list[int] = []
        for path in paths:
            started = time.perf_counter()
            result = hash_video(path, VideoSettings.full())
            ours_s += time.perf_counter() - started
            ok &= result.complete and result.sampled == seconds
            frames += result.sampled
            decoded += seconds * FPS
            started = time.perf_counter()
            peer = vpdq_hashes(path) if has_vpdq else baseline(path)
            peer_s += time.perf_counter() - started
            ours = [f.pdq for f in result.frames for _ in range(f.count)]
            distances += [hamming(a, b) for a, b in zip(ours, peer or [], strict=False)]
        entry = {
            "videos": len(paths),
            "sampled_frames": frames,
            "decoded_frames": decoded,
            "safenet_s": round(ours_s, 3),
            "peer_s": round(peer_s, 3),
            "safenet_frames_hashed_per_s": round(frames / ours_s, 2),
            "safenet_decoded_fps": round(decoded / ours_s, 1),
            "safenet_videos_per_min": round(60 * len(paths) / ours_s, 2),
            "peer_frames_hashed_per_s": round(frames / peer_s, 2),
            "peer_videos_per_min": round(60 * len(paths) / peer_s, 2),
            "speedup": round(peer_s / ours_s, 2),
            "agreement_mean_bits": round(statistics.mean(distances), 2) if distances else None,
            "agreement_max_bits": max(distances) if distances else None,
            "agreement_within_31": round(sum(d <= 31 for d in distances) / len(distances), 4) if distances else None,
        }
        figures[label] = entry
        columns = ("safenet_frames_hashed_per_s", "peer_frames_hashed_per_s", "safenet_videos_per_min")
        columns += ("peer_videos_per_min", "speedup", "agreement_mean_bits", "agreement_max_bits")
        rows.append([label, len(paths), frames, *(entry[c] for c in columns)])
    peer = "vpdq" if has_vpdq else "baseline"
    print(f"peer: {peer} ({figures['vpdq']}); clips of {seconds} s at {FPS} frames/s, 1 frame/s sampled")
    headers = ["clip", "videos", "frames", "safenet f/s", f"{peer} f/s", "safenet v/min", f"{peer} v/min"]
    print_table([*headers, "speed-up", "mean bits", "max bits"], rows)
    figures["peer"], figures["ok"] = peer, ok
    print(json.dumps(figures, sort_keys=True))
    return 0 if ok else 1


def _has_vpdq() -> bool:
    try:
        import vpdq  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
