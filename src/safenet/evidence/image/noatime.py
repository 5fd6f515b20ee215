"""dfVFS opens image files (raw segments, E01, VHD, VMDK, QCOW2) by path with a plain ``open``, and hands
E01 and split-raw paths to libewf and libsmraw, which open them in C: every read would set the image
files' access times. Three of its resolver helpers are replaced, once:

- OS files: the descriptor gets O_NOATIME right after it is opened, before anything is read;
- E01 and split raw: the segments are always opened as dfVFS file objects (so as OS files, above) and
  given to the library, the way dfVFS already reads an image inside another image.

Process-wide on purpose: every dfVFS path spec that reaches an OS file, in any worker, goes through them.
Devices (read through libsmdev) and kernels that refuse O_NOATIME are read as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyewf
import pysmraw
from dfvfs.file_io import ewf_file_io, os_file_io, raw_file_io
from dfvfs.lib import definitions as dfdef
from dfvfs.lib import errors as dferrors
from dfvfs.lib import ewf_helper, raw_helper
from dfvfs.resolver import resolver
from dfvfs.resolver_helpers import ewf_resolver_helper, manager, os_resolver_helper, raw_resolver_helper

from safenet.evidence.directory import keep_atime


class _NoAtimeOSFile(os_file_io.OSFile):  # type: ignore[misc]
    def _Open(self) -> None:
        super()._Open()
        fileno = getattr(self._file_object, "fileno", None)
        if callable(fileno):
            keep_atime(fileno())


def _segments(file_io: Any, path_spec: Any, glob: Callable[[Any, Any], list[Any]]) -> list[Any] | None:
    """The image's segment files as dfVFS file objects (kept in ``file_io._file_objects``), or None."""
    if not path_spec.HasParent():
        raise dferrors.PathSpecError("Unsupported path specification without parent.")
    context = file_io._resolver_context
    file_system = resolver.Resolver.OpenFileSystem(path_spec.parent, resolver_context=context)
    specs = glob(file_system, path_spec)
    if not specs:
        return None
    file_io._file_objects.extend(resolver.Resolver.OpenFileObject(spec, resolver_context=context) for spec in specs)
    return list(file_io._file_objects)


class _EWFFile(ewf_file_io.EWFFile):  # type: ignore[misc]
    def _OpenFileObject(self, path_spec: Any) -> Any:
        segments = _segments(self, path_spec, ewf_helper.EWFGlobPathSpec)
        if segments is None:
            return None
        handle = pyewf.handle()
        handle.open_file_objects(segments)
        return handle


class _RawFile(raw_file_io.RawFile):  # type: ignore[misc]
    def _OpenFileObject(self, path_spec: Any) -> Any:
        segments = _segments(self, path_spec, raw_helper.RawGlobPathSpec)
        if segments is None:
            return None
        handle = pysmraw.handle()
        handle.open_file_objects(segments)
        return handle


class _OSHelper(os_resolver_helper.OSResolverHelper):  # type: ignore[misc]
    def NewFileObject(self, resolver_context: Any, path_spec: Any) -> Any:
        return _NoAtimeOSFile(resolver_context, path_spec)


class _EWFHelper(ewf_resolver_helper.EWFResolverHelper):  # type: ignore[misc]
    def NewFileObject(self, resolver_context: Any, path_spec: Any) -> Any:
        return _EWFFile(resolver_context, path_spec)


class _RawHelper(raw_resolver_helper.RawResolverHelper):  # type: ignore[misc]
    def NewFileObject(self, resolver_context: Any, path_spec: Any) -> Any:
        return _RawFile(resolver_context, path_spec)


_HELPERS = {
    dfdef.TYPE_INDICATOR_OS: _OSHelper,
    dfdef.TYPE_INDICATOR_EWF: _EWFHelper,
    dfdef.TYPE_INDICATOR_RAW: _RawHelper,
}


def install() -> None:
    """Put the helpers above in dfVFS's registry (idempotent)."""
    for indicator, cls in _HELPERS.items():
        helper = manager.ResolverHelperManager.GetHelper(indicator)
        if not isinstance(helper, cls):
            manager.ResolverHelperManager.DeregisterHelper(helper)
            manager.ResolverHelperManager.RegisterHelper(cls())
