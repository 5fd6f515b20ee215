"""What one reveal is: an item (and frame) shown at one graded step to one session until a time.

Why graded steps: an examiner often needs only a larger (still blurred) view, or shape without colour, to
grade; each step is its own audited reveal, so the audit says how much of the picture a person saw.
The picture itself is held in memory for the reveal's life only (never written anywhere), so what is
served is exactly what was checked displayable and audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RevealStep(StrEnum):
    LARGE_BLURRED = "large-blurred"  # bigger than the thumbnail, still blurred and grey
    GREY = "grey"  # clear, greyscale
    COLOUR = "colour"  # clear, colour


@dataclass(frozen=True, slots=True)
class Reveal:
    item_id: int
    step: RevealStep
    frame: int | None  # videos and animated GIFs: the sampled frame shown
    until: datetime
    picture: bytes

    def matches(self, item_id: int, step: RevealStep, frame: int | None) -> bool:
        return (self.item_id, self.step, self.frame) == (item_id, step, frame)

    def url(self) -> str:
        frame = "" if self.frame is None else f"&frame={self.frame}"
        return f"/media/clear/{self.item_id}?step={self.step.value}{frame}"
