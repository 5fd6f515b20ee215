"""A region carved span by span, the scan's state carried from each span to the next, finds what one whole scan
finds (``CarveSpan``: the carver's side of splitting large regions, ``engine.split``)."""

from __future__ import annotations

import dataclasses
import io

import pytest

from safenet.evidence.carve import Carve, CarveLimits, CarveSpan, carve, expand_carved
from safenet.evidence.carve.scan import CarveLimitReached
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item
from tests.evidence.carve_builders import build


def _spans(data: bytes, limits: CarveLimits, step: int) -> list[Carve]:
    """Every span's carves in order, each span started from the state the spans before it left."""
    found: list[Carve] = []
    skip_until = 0
    for start in range(0, len(data), step):
        span = CarveSpan(start, min(start + step, len(data)), skip_until, len(found))
        for one in carve(io.BytesIO(data), len(data), dataclasses.replace(limits, span=span)):
            found.append(one)
            if one.partial is None:
                skip_until = one.end
    return found


@pytest.mark.parametrize(
    ("align", "window", "step"),
    [
        (512, 16 << 20, 8192),  # spans on the sector grid, shorter than a window
        (512, 64 << 10, 3 * (64 << 10)),  # spans of whole windows
        (1, 64 << 10, 2 * (64 << 10)),  # any byte may start a file: spans of whole windows
    ],
)
def test_spans_with_the_state_carried_find_what_the_whole_scan_finds(align: int, window: int, step: int) -> None:
    data, answer = build(seed=5, scale=3, align=align)
    limits = CarveLimits(window=window, alignment=align)
    whole = list(carve(io.BytesIO(data), len(data), limits))
    assert {c.offset for c in whole if c.partial is None} >= set(answer.whole)
    assert len(data) > 4 * step
    assert _spans(data, limits, step) == whole


def test_a_span_carves_only_the_files_starting_in_it_and_reads_past_its_end() -> None:
    data, _ = build(seed=5, scale=1, align=512)
    limits = CarveLimits(alignment=512)
    whole = list(carve(io.BytesIO(data), len(data), limits))
    crossing = next(c for c in whole if c.partial is None and c.length > 1024)
    stop = crossing.offset + 512  # the file's first sector only
    span = CarveSpan(crossing.offset, stop)
    got = list(carve(io.BytesIO(data), len(data), dataclasses.replace(limits, span=span)))
    assert got[0] == crossing  # carved whole, past the span's end
    assert all(crossing.offset <= c.offset < stop for c in got)


def test_the_carve_limit_counts_the_files_carved_before_the_span() -> None:
    data, _ = build(seed=5, scale=1, align=512)
    limits = CarveLimits(alignment=512, span=CarveSpan(0, len(data), carved_before=3), max_carves=5)
    got: list[Carve] = []
    with pytest.raises(CarveLimitReached, match="more than 5 files"):
        got.extend(carve(io.BytesIO(data), len(data), limits))
    assert len(got) == 2


def test_a_span_applies_to_a_region_only_never_to_a_file_carved_inside() -> None:
    data, _ = build(seed=5, scale=1, align=1)
    source = Locator.source("/ev")
    in_file = Item(source.child(Layer(LayerKind.PATH, "blob.bin")), "blob.bin", len(data))
    limits = CarveLimits(span=CarveSpan(0, 1))  # a span a region's range would have
    warnings: list[EvidenceWarning] = []
    found = [
        item.locator.leaf.offset
        for item, _ in expand_carved(in_file, lambda: io.BytesIO(data), warnings.append, limits)
    ]
    whole = [c.offset for c in carve(io.BytesIO(data), len(data), CarveLimits())]
    assert found == whole and len(whole) > 1 and not warnings
