"""The image back-end's third-party modules, checked once at start-up.

dfVFS itself hides a missing binding behind ``except ImportError: pass`` and fails much later with a
vague "unsupported format". Safenet checks the modules it relies on when the back-end is imported and
names the missing ones, so an installation problem is found before an exhibit is opened.
"""

from __future__ import annotations

import importlib.util

#: module -> the PyPI distribution that provides it (the name to tell an operator to install).
REQUIRED = {
    "dfvfs": "dfvfs",
    "pytsk3": "pytsk3",
    "pyewf": "libewf-python",
    "pyqcow": "libqcow-python",
    "pyvhdi": "libvhdi-python",
    "pyvmdk": "libvmdk-python",
    "pysmraw": "libsmraw-python",
    "pyvslvm": "libvslvm-python",
    "pyvsgpt": "libvsgpt-python",
    "pyvsapm": "libvsapm-python",
    "pyvshadow": "libvshadow-python",
    "pybde": "libbde-python",
    "pyfvde": "libfvde-python",
    "pyluksde": "libluksde-python",
    "pyfsapfs": "libfsapfs-python",
    "pyfsxfs": "libfsxfs-python",
    "pyfsext": "libfsext-python",
    "pyfsntfs": "libfsntfs-python",
    "pyfsfat": "libfsfat-python",
    "pyfshfs": "libfshfs-python",
    "pysigscan": "libsigscan-python",
}


class MissingDependency(RuntimeError):
    """A module the image back-end needs is not installed."""


def check() -> None:
    """Raise MissingDependency naming every missing distribution (all at once, not one per retry)."""
    missing = sorted({dist for module, dist in REQUIRED.items() if importlib.util.find_spec(module) is None})
    if missing:
        raise MissingDependency(
            "the disk-image back-end needs these Python packages, which are not installed: "
            + ", ".join(missing)
            + " (run `pip install -e .` in the Safenet environment)"
        )
