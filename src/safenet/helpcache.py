"""Typer's help text, kept, so that ``safenet [COMMAND ...] --help`` answers without importing Typer and Rich.

Importing Typer and Rich's help formatter takes longer than the whole start-up may (issue 20: 0.15 s). The help
a build prints in a given terminal never changes, so the first ``--help`` of a command renders through Typer as
always and its exact output is kept in ``$XDG_CACHE_HOME/safenet/help`` (default ``~/.cache/safenet/help``); later
calls print the kept text. It is Typer's own output, never a hand-written copy, so it cannot drift from the
commands: each entry is keyed by everything that shapes it, and any change renders it afresh:

- this installation of Safenet: each package file's path, size and modification time (the files the build digest
  covers; a stat costs a thousandth of what reading them does), and the interpreter;
- the installed libraries (every ``*.dist-info`` folder name on the path: a Typer, Click or Rich upgrade);
- the command line and the program name Click shows in "Usage:";
- the terminal: whether standard output is one, the size Rich would read, the output's encoding;
- the environment variables Rich, Typer and Click read when formatting (width, colour, language) and Safenet's
  (these as digests: a value may be a secret).

A key is stored whole in its entry and compared on reading, so two keys can never share a text. Only a command
line naming commands is kept (never an argument such as an evidence path), and only when Typer answered exit 0.
Any failure to read or write the cache falls back to Typer, silently: it is only a cache.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Sequence
from typing import Any

HELP_OPTION = "--help"

# What Rich (console width, colour, terminal detection), Typer (width, colour, Rich on/off) and Click/gettext
# (language of "Usage:", "Show this message and exit.") read from the environment when printing help.
FORMAT_ENV = (
    "COLUMNS",
    "LINES",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "PY_COLORS",
    "GITHUB_ACTIONS",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "DATABRICKS_RUNTIME_VERSION",
    "TERMINAL_WIDTH",
    "_TYPER_FORCE_DISABLE_TERMINAL",
    "TYPER_USE_RICH",
    "LANGUAGE",
    "LANG",
    "LC_ALL",
    "LC_MESSAGES",
    "LC_CTYPE",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
)


def is_help_request(args: Sequence[str]) -> bool:
    """``[COMMAND ...] --help``: words (no options) followed by the help option, nothing after it."""
    return bool(args) and args[-1] == HELP_OPTION and not any(a.startswith("-") for a in args[:-1])


# Paths as strings, with os.path: pathlib costs a quarter of this start-up to import.
def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "safenet", "help")


def _package_stamp() -> list[str]:
    """Path, size and modification time of every file of the installed package, in path order."""
    root = os.path.dirname(os.path.abspath(__file__))
    rows = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            rows.append(f"{os.path.relpath(path, root)}\t{st.st_size}\t{st.st_mtime_ns}")
    rows.sort()
    return rows


def _libraries_stamp() -> list[str]:
    """The ``*.dist-info`` folders on the path: name and version of each installed distribution."""
    found: list[str] = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found.extend(f"{entry}/{n}" for n in names if n.endswith(".dist-info"))
    return sorted(found)


def _terminal_size() -> str:
    """The size Rich reads: that of the first of standard input, output and error that is a terminal."""
    for fd in (0, 1, 2):
        try:
            size = os.get_terminal_size(fd)
        except (AttributeError, ValueError, OSError):
            continue
        return f"{size.columns}x{size.lines}"
    return "-"


def _stdout_facts() -> list[str]:
    out = sys.stdout
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    return [f"tty={tty}", f"encoding={getattr(out, 'encoding', None)}", f"size={_terminal_size()}"]


def _digest(value: str) -> str:
    """A Safenet variable's value as it goes into a key: its BLAKE2b digest, never the value, as the entry is a
    plain file and a value may hold a secret (``SAFENET_OPS_DB``'s URL may carry a password). ``_blake2`` is
    hashlib's own BLAKE2, imported without OpenSSL, which would cost this start-up a few milliseconds."""
    from _blake2 import blake2b

    return blake2b(value.encode("utf-8", "surrogateescape"), person=b"safenet-help").hexdigest()


def key(args: Sequence[str]) -> str:
    """Everything that shapes the help text for ``args``, one fact a line."""
    main = sys.modules.get("__main__")
    prog = os.path.basename(sys.argv[0]) if sys.argv else ""  # Click's "Usage:" names the file run, or "python -m"
    lines = [
        "safenet help cache 1",
        f"python={sys.version} {sys.platform} {sys.prefix}",
        f"argv={list(args)!r}",
        f"prog={prog!r} main_package={getattr(main, '__package__', None)!r}",
        *_stdout_facts(),
        *(f"env {n}={os.environ[n]!r}" for n in FORMAT_ENV if n in os.environ),
        *(
            f"env {n}={_digest(v)}"
            for n, v in sorted(os.environ.items())
            if n.upper().lstrip("_").startswith("SAFENET")
        ),
        *_package_stamp(),
        *_libraries_stamp(),
    ]
    return "\n".join(lines) + "\n"


def _entry(key_text: str) -> str:
    return os.path.join(cache_dir(), f"{zlib.crc32(key_text.encode('utf-8', 'surrogateescape')):08x}.txt")


# An entry: the key's length in characters, a newline, the key, then the help text.
def cached(args: Sequence[str]) -> str | None:
    """The kept help text for ``args`` in this installation and terminal, or None."""
    try:
        key_text = key(args)
        with open(_entry(key_text), encoding="utf-8", errors="surrogateescape") as file:
            data = file.read()
        head, _, rest = data.partition("\n")
        length = int(head)
    except (OSError, ValueError):
        return None
    if rest[:length] != key_text:
        return None
    return rest[length:]


def remember(args: Sequence[str], text: str) -> None:
    """Keep ``text`` as the help for ``args`` (written whole or not at all)."""
    try:
        key_text = key(args)
        path = _entry(key_text)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        scratch = f"{path}.{os.getpid()}.tmp"
        with open(scratch, "w", encoding="utf-8", errors="surrogateescape") as file:
            file.write(f"{len(key_text)}\n{key_text}{text}")
        os.replace(scratch, path)
    except OSError:
        return


def names_commands(app: Any, words: Sequence[str]) -> bool:
    """Whether every word is a command (group) of the Typer ``app``: only such help is kept, never arguments."""
    import typer

    if not isinstance(app, typer.Typer):
        return False
    command = typer.main.get_command(app)
    for word in words:
        subcommands = getattr(command, "commands", {})  # a group's (Typer's Click is its own copy: no isinstance)
        if word not in subcommands:
            return False
        command = subcommands[word]
    return True


class Recorder:
    """Standard output while Typer prints the help: written through, and kept. Everything else (``isatty``,
    ``fileno``, ``encoding``, ``flush``) is the real stream's, through ``__getattr__``, so Rich formats exactly as
    it would without it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        written: int = self._stream.write(text)  # first: Click probes with write(b"") and expects a text stream
        self.parts.append(text)  # to refuse it
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def text(self) -> str:
        return "".join(self.parts)
