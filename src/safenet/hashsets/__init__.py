"""Known material: hash-set readers, category schemes and the hash-set database with batched lookups.

Import a national set once (``HashSetStore.import_file``), then let every triage open a ``Matcher`` over
the sets it uses. Categories are data (``schemes/*.yaml``) so UK codes can be confirmed without a release.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safenet.hashsets.categories import (
        Category,
        Scheme,
        get_scheme,
        load_scheme_file,
        load_schemes,
        most_severe,
        uk_scheme,
    )
    from safenet.hashsets.formats import detect_format, format_names, get_format
    from safenet.hashsets.formats.base import HashSetFormat
    from safenet.hashsets.model import (
        HashKind,
        HashRecord,
        HashSetError,
        HashSetInfo,
        Match,
        SetKind,
        UnknownFormat,
        WarnFn,
    )
    from safenet.hashsets.store import HashSetStore, Matcher

# The names below load their module on first use (PEP 562): the command line imports the light
# ``hashsets.model`` for its option types, and must not pay for NumPy, Pillow and SQLite readers to print --help.
_HOMES = {
    "Category": "categories",
    "Scheme": "categories",
    "get_scheme": "categories",
    "load_scheme_file": "categories",
    "load_schemes": "categories",
    "most_severe": "categories",
    "uk_scheme": "categories",
    "detect_format": "formats",
    "format_names": "formats",
    "get_format": "formats",
    "HashSetFormat": "formats.base",
    "HashKind": "model",
    "HashRecord": "model",
    "HashSetError": "model",
    "HashSetInfo": "model",
    "Match": "model",
    "SetKind": "model",
    "UnknownFormat": "model",
    "WarnFn": "model",
    "HashSetStore": "store",
    "Matcher": "store",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "Category",
    "HashKind",
    "HashRecord",
    "HashSetError",
    "HashSetFormat",
    "HashSetInfo",
    "HashSetStore",
    "Match",
    "Matcher",
    "Scheme",
    "SetKind",
    "UnknownFormat",
    "WarnFn",
    "detect_format",
    "format_names",
    "get_format",
    "get_scheme",
    "load_scheme_file",
    "load_schemes",
    "most_severe",
    "uk_scheme",
]
