"""What counts as a hit: one rule, used by the live hit lines, stop-at-first-hit and every report."""

from __future__ import annotations

NON_INDECENT = "non-indecent"


def is_hit(set_kind: str, category: str) -> bool:
    """A match counts as a hit when its set holds illicit material and the entry is not graded non-indecent.

    Uncategorised and unknown codes from an illicit set are hits: they need grading, not dismissal.
    """
    return set_kind == "illicit" and category != NON_INDECENT
