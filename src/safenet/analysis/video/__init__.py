"""Video: vPDQ-style frame hashes, video-to-video and frame-to-image matching, blurred frame sheets.

Use :func:`hash_video` for a file (a typed :class:`VideoHash`, never an exception for bad input),
:func:`match_videos` to compare two hashed videos, :func:`match_frames` to search frames in an image
(PDQ) index, and :func:`write_frame_sheet` to store the blurred greyscale sheet in a case folder.
A perceptual match is a lead for an examiner to confirm, never proof on its own.
"""

from safenet.analysis.video.hasher import hash_video
from safenet.analysis.video.match import FrameHit, FrameMatch, MatchSettings, VideoMatch, match_frames, match_videos
from safenet.analysis.video.model import Stop, VideoFrame, VideoHash, VideoMeta, VideoSettings
from safenet.analysis.video.sheet import write_frame_sheet

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
