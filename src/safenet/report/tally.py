"""The review page's live counts, read off the categorisation every report counts from.

Why a separate reading and not a second count: the page's per-category numbers must be the reports' numbers
(a trusted hash-set grade stands over an examiner's different grade; items inside a trusted item are counted
apart), so they are taken from ``categorise``'s totals as they are. The progress figures (how many items
still need an examiner) are read off the same per-item outcomes.
"""

from __future__ import annotations

from safenet.case.gradings import GRADABLE_MEDIA, OTHER_GRADES, UK_GRADES, Grade
from safenet.case.store import Case
from safenet.report.categorisation import TRUSTED, WITH_TRUSTED_PARENT, Categorisation, ItemCategory, categorise

#: Keys of the page's tally (the template and review.js show them; the browser test reads them).
TALLY_KEYS = (
    *UK_GRADES,
    *OTHER_GRADES,
    Grade.NON_INDECENT.value,
    Grade.UNCERTAIN.value,
    "matched-uncategorised",
    "with-trusted-parent",
    "ungraded",
    "disagreements",
    "to_grade",
    "total",
)


def review_tally(case: Case) -> dict[str, int]:
    """The page's counts for the whole case (every exhibit), equal to the reports' totals."""
    return tally_of(categorise(case, roles=False, deduplicate=False))


def tally_of(categorised: Categorisation) -> dict[str, int]:
    """Per counted outcome the reports' total, plus the review's progress (``to_grade`` of ``total``)."""
    total = categorised.total
    out = {c: total.rows[c]["total"] for c in UK_GRADES}
    out |= {c: total.other[c]["total"] for c in OTHER_GRADES}  # other material, counted apart from A/B/C
    out |= {
        Grade.NON_INDECENT.value: total.not_indecent,
        Grade.UNCERTAIN.value: total.uncertain,
        "matched-uncategorised": total.matched_uncategorised,
        "with-trusted-parent": total.with_trusted_parent,
        "ungraded": total.unreviewed,
        "disagreements": total.disagreements,
    }
    reviewable = [i for i in categorised.items.values() if _in_review(i)]
    out["to_grade"] = sum(1 for i in reviewable if i.grade is None)
    out["total"] = len(reviewable)
    return out


def _in_review(item: ItemCategory) -> bool:
    """In the review queue: an image or video not settled by a trusted grade (its own or its parent's)."""
    return item.media_kind in GRADABLE_MEDIA and item.provenance != TRUSTED and item.outcome != WITH_TRUSTED_PARENT
