"""Video: vPDQ-style frame hashes and blurred frame sheets (per-item work on a found video).

Use :func:`hash_video` for a file (a typed :class:`VideoHash`, never an exception for bad input) and
:func:`write_frame_sheet` to store the blurred greyscale sheet in a case folder. Comparing videos with
known ones (the vPDQ rule, frames searched in an image index) is searching a set, so it lives with the
sets in :mod:`safenet.hashsets.videomatch`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safenet.analysis.video.hasher import hash_video
    from safenet.analysis.video.model import Stop, VideoFrame, VideoHash, VideoMeta, VideoSettings
    from safenet.analysis.video.sheet import write_frame_sheet

#: Where each name lives. The submodules are imported on first use (PEP 562): PyAV is a heavy import that a
#: triage finding no video never needs, and importing ``.model`` must not pull it in.
_HOMES = {
    "hash_video": "hasher",
    **dict.fromkeys(("Stop", "VideoFrame", "VideoHash", "VideoMeta", "VideoSettings"), "model"),
    "write_frame_sheet": "sheet",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "Stop",
    "VideoFrame",
    "VideoHash",
    "VideoMeta",
    "VideoSettings",
    "hash_video",
    "write_frame_sheet",
]
