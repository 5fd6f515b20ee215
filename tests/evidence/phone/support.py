"""What the phone back-ends' tests share: listing a source with its warnings, and reading every item of a
damaged one."""

from __future__ import annotations

from safenet.evidence.model import Evidence, EvidenceError, EvidenceWarning, Item


def listing(evidence: Evidence) -> tuple[list[Item], list[EvidenceWarning]]:
    """The items the back-end lists and the warnings it records while listing them."""
    warnings: list[EvidenceWarning] = []
    return list(evidence.items(warnings.append)), warnings


def read_every(evidence: Evidence, items: list[Item]) -> None:
    """Open and read each item whole: damage may fail an item as an EvidenceError (the engine records it as
    that item's read error), never as anything else."""
    for item in items:
        try:
            with evidence.open(item.locator) as stream:
                stream.read()
        except EvidenceError:
            pass
