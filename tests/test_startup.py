"""Parsing the command line loads none of the heavy libraries: they are imported by the command that runs.

A guard, not a timing (issue 20: `safenet --version` and `--help` start in a tenth of a second or so;
bench/bench_startup.py measures it). Each check runs in a fresh interpreter, as a user's start-up does.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "numpy", "PIL", "pillow_heif", "fastapi", "av", "cryptography", "dfvfs", "pytsk3", "faiss")
HEAVY += ("weasyprint", "jinja2", "yaml", "uvicorn", "safenet.engine.triage", "safenet.case.store")


def loaded_after(code: str) -> list[str]:
    """The HEAVY modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import safenet.cli",
        "from safenet.cli import Exit, main",
        "import safenet.commands.root",  # the whole Typer app, every command registered
    ],
)
def test_importing_the_command_line_loads_no_heavy_library(code: str) -> None:
    assert loaded_after(code) == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["triage", "--help"], ["hashset", "import", "--help"]])
def test_parsing_and_help_load_no_heavy_library(argv: list[str]) -> None:
    code = "import contextlib, io\nfrom safenet.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
    code += f"    assert main({argv!r}) == 0"
    assert loaded_after(code) == []


@pytest.mark.parametrize("argv", [["--help"], ["triage", "--help"], ["hashset", "import", "--help"]])
def test_kept_help_loads_neither_typer_nor_rich(argv: list[str]) -> None:
    """Once Typer has printed a command's help (kept by safenet.helpcache), the next run prints it without
    importing Typer, Click or Rich (the tests' XDG_CACHE_HOME is their own temporary folder)."""
    code = "import contextlib, io\nfrom safenet.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n"
    code += f"    assert main({argv!r}) == 0"
    loaded_after(code)  # Typer renders it and it is kept
    probe = code + "\nimport json, sys\nprint(json.dumps([m for m in ('typer', 'click', 'rich') if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_version_fast_path_prints_what_the_typer_option_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """`safenet --version` alone skips Typer; with any other argument Typer's --version answers, the same."""
    from safenet import __version__
    from safenet.cli import main

    assert main(["--version"]) == 0
    fast = capsys.readouterr().out
    assert main(["--version", "--help"]) == 0  # eager: the option answers before the help
    assert capsys.readouterr().out == fast == f"safenet {__version__}\n"


@pytest.mark.parametrize(
    ("argv", "own"),
    [
        (["verify", "/nonexistent-case"], "safenet.commands.case"),
        (["hashset", "list", "--hashdb", "/nonexistent-db"], "safenet.commands.hashsets"),
    ],
)
def test_a_command_line_imports_its_own_command_module_only(argv: list[str], own: str) -> None:
    """``safenet COMMAND ...`` (not a help request) runs an app of that one command: the other command modules
    are never imported, and the whole app is not built."""
    from safenet.commands.registry import COMMANDS

    modules = sorted({module for module, _ in COMMANDS.values()} | {"safenet.commands.root"})
    code = "import contextlib, io, json, sys\nfrom safenet.cli import main\n"
    code += "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
    code += f"    main({argv!r})\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == [own]


def test_one_command_app_and_the_whole_app_answer_alike(capsys: pytest.CaptureFixture[str]) -> None:
    """A usage mistake gets the same words and exit code from an app of one command as from the whole one."""
    import typer
    from typer.testing import CliRunner

    from safenet.commands.registry import app_for, new_app

    argv = ["triage", "--no-such-option"]
    one, whole = app_for(argv), new_app()
    assert isinstance(one, typer.Typer)
    answers = [CliRunner().invoke(app, argv) for app in (one, whole)]
    assert answers[0].exit_code == answers[1].exit_code == 2
    assert answers[0].output == answers[1].output and "No such option: --no-such-option" in answers[0].output
    assert app_for(["triag"]) is None and app_for(["--version"]) is None and app_for([]) is None
