"""HEIC/HEIF pictures (phone cameras) open through Pillow's opener registry once pillow-heif registers there.

Registered on first need, not at import: a triage that meets no picture to decode (the quick profile's first
files, a folder of documents) does not pay for loading libheif before its first read. Every place that opens
evidence pixels or metadata with Pillow calls :func:`ready` first (``pdq.decode``, ``analysis.camera``); Pillow
reads AVIF itself.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_registered = False


def ready() -> None:
    """Register pillow-heif's opener with Pillow, once per process (the triage's worker threads may race here)."""
    global _registered
    if _registered:
        return
    with _lock:
        if not _registered:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _registered = True
