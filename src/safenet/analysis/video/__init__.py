"""Video: vPDQ-style frame hashes, video-to-video and frame-to-image matching, blurred frame sheets.

Use :func:`hash_video` for a file (a typed :class:`VideoHash`, never an exception for bad input),
:func:`match_videos` to compare two hashed videos, :func:`match_frames` to search frames in an image
(PDQ) index, and :func:`write_frame_sheet` to store the blurred greyscale sheet in a case folder.
A perceptual match is a lead for an examiner to confirm, never proof on its own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safenet.analysis.video.hasher import hash_video
    from safenet.analysis.video.match import (
        FrameHit,
        FrameMatch,
        MatchSettings,
        VideoMatch,
        match_frames,
        match_videos,
    )
    from safenet.analysis.video.model import Stop, VideoFrame, VideoHash, VideoMeta, VideoSettings
    from safenet.analysis.video.sheet import write_frame_sheet

#: Where each name lives. The submodules are imported on first use (PEP 562): PyAV is a heavy import that a
#: triage finding no video never needs, and importing ``.model`` must not pull it in.
_HOMES = {
    "hash_video": "hasher",
    **dict.fromkeys(("FrameHit", "FrameMatch", "MatchSettings", "VideoMatch", "match_frames", "match_videos"), "match"),
    **dict.fromkeys(("Stop", "VideoFrame", "VideoHash", "VideoMeta", "VideoSettings"), "model"),
    "write_frame_sheet": "sheet",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "FrameHit",
    "FrameMatch",
    "MatchSettings",
    "Stop",
    "VideoFrame",
    "VideoHash",
    "VideoMatch",
    "VideoMeta",
    "VideoSettings",
    "hash_video",
    "match_frames",
    "match_videos",
    "write_frame_sheet",
]
