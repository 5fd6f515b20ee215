"""Known material: hash-set readers, category schemes and the hash-set database with batched lookups.

Import a national set once (``HashSetStore.import_file``), then let every triage open a ``Matcher`` over
the sets it uses. Categories are data (``schemes/*.yaml``) so UK codes can be confirmed without a release.
"""

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
