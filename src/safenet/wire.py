"""Values that cross process and machine boundaries once per item, pickled by position.

Every examined item crosses a boundary twice when worker processes or a Dask cluster examine it: the ``Item``
(its locator, name, size, times) goes to a worker, the ``WorkResult`` (records, digests, warnings) comes back,
and on a cluster the scheduler unpickles and pickles the task's arguments once more. These are frozen
dataclasses with slots, whose generated ``__getstate__``/``__setstate__`` call ``dataclasses.fields()`` on
every object, both ways: on the exhibit of the Dask benchmark, unpickling results took about a quarter of the
coordinator's time (a py-spy profile); bench/bench_scale.py prints the cost per item both ways.

``by_position`` gives such a class a state that is its field values as a tuple, in declaration order, read by
one ``operator.attrgetter`` and written back by a generated function (what ``dataclasses`` itself does for
``__init__``). The pickled value is the same object: same class, same fields, same values (tests compare
round trips field by field). A pickle is only ever read by the same Safenet version that wrote it (process
pools and cluster workers of one run; nothing pickled is stored).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def by_position(cls: type[T]) -> type[T]:
    """Decorate a frozen slotted dataclass (above ``@dataclass``) so that it pickles as a tuple of its fields."""
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a dataclass with slots")
    names = tuple(field.name for field in dataclasses.fields(cls))
    if not names or any(not name.isidentifier() for name in names):
        raise TypeError(f"{cls.__name__} has no fields to pickle by position")
    getter = operator.attrgetter(*names)
    if len(names) == 1:

        def getstate(self: Any) -> tuple[Any, ...]:
            return (getter(self),)

    else:

        def getstate(self: Any) -> tuple[Any, ...]:
            return getter(self)

    setattr(cls, "__getstate__", getstate)  # noqa: B010 - assigned on the class dataclass made
    setattr(cls, "__setstate__", _setstate_for(names))  # noqa: B010
    setattr(cls, "__init_subclass__", classmethod(_no_subclass))  # noqa: B010 - its state names its own fields only
    return cls


def _no_subclass(cls: type, /, **kwargs: Any) -> None:
    """A subclass would inherit a state that leaves out the fields it adds: pickling would drop them silently."""
    raise TypeError(f"{cls.__name__}: a class pickled by position (safenet.wire) is not subclassed")


def _setstate_for(names: tuple[str, ...]) -> Callable[[Any, tuple[Any, ...]], None]:
    """``__setstate__`` unpacking the tuple into the slots, one statement a field (frozen: by ``object``)."""
    lines = [f"def __setstate__(self, state):\n    ({', '.join(names)},) = state\n"]
    lines += [f"    _set(self, {name!r}, {name})\n" for name in names]
    scope: dict[str, Any] = {"_set": object.__setattr__}
    exec("".join(lines), scope)  # noqa: S102 - field names only, checked as identifiers above
    setstate: Callable[[Any, tuple[Any, ...]], None] = scope["__setstate__"]
    return setstate
