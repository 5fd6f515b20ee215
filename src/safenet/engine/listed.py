"""Digests an evidence source lists for its own files, checked against what Safenet computed.

Some sources come with digests made by the tool that produced them (a Cellebrite UFDR lists MD5 and SHA-256
per file). Where Safenet computed the same algorithm for the same file, the two must agree; a difference means
the package was altered or damaged after it was made, or the tool hashed something else, and the examiner must
be told which file and both values. The back-end names its own warning code for it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, Protocol, cast, runtime_checkable

from safenet.case.records import WorkResult
from safenet.evidence.locator import Locator, display_safe
from safenet.evidence.model import Evidence, EvidenceWarning


@runtime_checkable
class ListsDigests(Protocol):
    """A back-end whose source lists digests for its files."""

    DIGEST_MISMATCH: ClassVar[str]  # the warning code recorded where a listed digest differs

    def expected_digests(self, locator: Locator) -> dict[str, bytes]:
        """The digests listed for the item at ``locator`` by algorithm name ("md5", "sha256" ...); {} if none."""
        ...


#: Whether each back-end class lists digests: asked once per class, not per item, since a runtime-checkable
#: Protocol's isinstance walks the protocol's members every time (tens of microseconds per item).
_LISTS: dict[type, bool] = {}


def lists_digests(evidence: Evidence) -> bool:
    """Whether ``evidence``'s back-end lists digests for its files (``ListsDigests``)."""
    kind = type(evidence)
    found = _LISTS.get(kind)
    if found is None:
        found = _LISTS[kind] = isinstance(evidence, ListsDigests)
    return found


def cross_check(evidence: Evidence, result: WorkResult) -> WorkResult:
    """``result`` with a warning added for each listed digest its items' computed digests contradict."""
    if not lists_digests(evidence):
        return result
    source = cast(ListsDigests, evidence)  # lists_digests said so
    found: list[EvidenceWarning] = []
    for record in result.records:
        if not record.digests:
            continue  # not hashed (the profile skips its type, or it could not be read): nothing to compare
        listed = source.expected_digests(record.item.locator)
        for algorithm in sorted(listed.keys() & record.digests.keys()):
            expected, computed = listed[algorithm], record.digests[algorithm]
            if expected != computed:
                message = (
                    f"{algorithm} listed by the source is {expected.hex()}, Safenet computed {computed.hex()}: "
                    f"the file {display_safe(record.item.name)} differs from what the source's tool hashed"
                )
                found.append(EvidenceWarning(source.DIGEST_MISMATCH, message, record.item.locator))
    if not found:
        return result
    return replace(result, warnings=(*result.warnings, *found))
