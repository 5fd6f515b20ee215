"""The values that cross process boundaries per item pickle by position and come back equal, field for field."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime

import pytest

from safenet.analysis.filetype import FileType, MediaKind
from safenet.case.records import ItemRecord, ItemStatus, PdqRecord, WorkResult
from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceWarning, Item, TimeSource, Timestamp
from safenet.wire import by_position


def _result() -> WorkResult:
    fs = Locator.source("/evidence/disk.img").child(Layer(LayerKind.FILESYSTEM, "p1", detail="ext4"))
    when = Timestamp(datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC), TimeSource.FS_METADATA, 1e-9)
    items = [
        Item(fs.child(Layer(LayerKind.PATH, f"/DCIM/{n}.jpg", inode=n, offset=4096 * n)), f"{n}.jpg", n, when, when)
        for n in range(3)
    ]
    pdq = PdqRecord(b"\x01" * 32, 90, None, ((False, (b"\x02" * 32,) * 8),))
    records = tuple(
        ItemRecord(
            item,
            FileType("jpeg", MediaKind.IMAGE, "image/jpeg", frozenset({".jpg"})),
            ItemStatus.EXAMINED,
            {"md5": bytes(16)},
            False,
            pdq=pdq,
        )
        for item in items
    )
    warning = EvidenceWarning("unreadable", "short read", items[1].locator)
    return WorkResult(records, (warning,), 12345)


def _fields(value: object) -> object:
    """Every field, recursively, with its class: what equality alone could hide (a list for a tuple)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value), tuple(_fields(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, tuple | list):
        return (type(value), tuple(_fields(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple((k, _fields(v)) for k, v in value.items()))
    return (type(value), value)


def _values(value: object) -> list[object]:
    """Every dataclass instance in ``value``, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [value, *(v for f in dataclasses.fields(value) for v in _values(getattr(value, f.name)))]
    if isinstance(value, tuple | list):
        return [v for part in value for v in _values(part)]
    if isinstance(value, dict):
        return [v for part in value.values() for v in _values(part)]
    return []


def test_a_result_comes_back_the_same_field_for_field_every_value_pickled_by_position() -> None:
    result = _result()
    values = _values(result)
    assert {type(v).__name__ for v in values} >= {"WorkResult", "ItemRecord", "Item", "Locator", "Layer", "Timestamp"}
    for value in values:  # the state pickled is the tuple of the fields, not dataclasses' list built by fields()
        state = value.__getstate__()  # type: ignore[attr-defined]
        assert type(state) is tuple and state == tuple(getattr(value, f.name) for f in dataclasses.fields(value))
    back = pickle.loads(pickle.dumps(result, protocol=5))
    assert back == result and _fields(back) == _fields(result)
    # the shared leading layers stay shared objects (the recorder renders them once per batch)
    locators = [record.item.locator for record in back.records]
    assert locators[0].layers[1] is locators[2].layers[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.records[0].item.name = "x"  # type: ignore[misc]


def test_the_state_is_a_tuple_of_fields() -> None:
    layer = Layer(LayerKind.PATH, "a", inode=7)
    assert layer.__getstate__() == (LayerKind.PATH, "a", 7, None, None, None)  # type: ignore[attr-defined]
    only = Locator.source("/x")
    assert pickle.loads(pickle.dumps(only)) == only  # a one-field class


def test_only_slotted_dataclasses_are_taken() -> None:
    class Plain:
        pass

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    for cls in (Plain, NoSlots):
        with pytest.raises(TypeError):
            by_position(cls)


def test_a_class_pickled_by_position_is_not_subclassed() -> None:
    """Its state names its own fields only: a subclass's added fields would be dropped on the way, silently."""
    with pytest.raises(TypeError, match="not subclassed"):

        @dataclasses.dataclass(frozen=True, slots=True)
        class Wider(Layer):
            extra: int = 0
