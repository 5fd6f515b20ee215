"""Kept help (safenet.helpcache): ``safenet [COMMAND ...] --help`` prints exactly what Typer prints, for every
command, without Typer once kept; anything that shapes the text renders it afresh; arguments are never kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from safenet import cli, helpcache


@pytest.fixture(autouse=True)
def _steady_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """The package's files as they are now: an edit elsewhere in the working tree mid-test is another build."""
    stamp = helpcache._package_stamp()
    monkeypatch.setattr(helpcache, "_package_stamp", lambda: stamp)


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and group of the Typer app, as the words that name it (the root first)."""
    import typer

    from safenet.commands.root import app

    def walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def typer_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """What Typer itself prints for ``argv``, with no cache involved."""
    from safenet.commands.root import app

    with pytest.raises(SystemExit) as stop:
        app(args=argv, standalone_mode=True)
    assert stop.value.code in (0, None)
    return capsys.readouterr().out


def no_typer(*args: object, **kwargs: object) -> NoReturn:
    raise AssertionError("Typer was called for help that is kept")


def entries() -> list[Path]:
    folder = Path(helpcache.cache_dir())
    return sorted(folder.glob("*.txt")) if folder.is_dir() else []


@pytest.mark.slow  # 62 commands rendered twice by Typer and once kept, per setting
@pytest.mark.parametrize(
    "environment",
    [{}, {"COLUMNS": "200"}, {"FORCE_COLOR": "1", "COLUMNS": "100"}],
    ids=["plain", "wide", "colour"],
)
def test_kept_help_is_typers_output_for_every_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    for name in helpcache.FORMAT_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    paths = list(command_paths())
    assert ("triage",) in paths and ("hashset", "import") in paths  # the walk reaches groups' commands
    expected = {path: typer_help(capsys, [*path, "--help"]) for path in paths}
    for path in paths:  # first run: Typer prints, the text is kept
        assert cli.main([*path, "--help"]) == 0
        assert capsys.readouterr().out == expected[path], path
    assert len(entries()) == len(paths)
    monkeypatch.setattr(cli, "app", no_typer)
    for path in paths:  # later runs: the kept text, the same
        assert cli.main([*path, "--help"]) == 0
        assert capsys.readouterr().out == expected[path], path
    if "FORCE_COLOR" in environment:
        assert "\x1b[" in expected[("triage",)]  # colour codes kept as printed


def test_a_changed_setting_or_build_renders_afresh(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["triage", "--help"]) == 0
    narrow = capsys.readouterr().out
    assert helpcache.cached(["triage", "--help"]) == narrow
    monkeypatch.setenv("COLUMNS", "150")
    assert helpcache.cached(["triage", "--help"]) is None
    assert cli.main(["triage", "--help"]) == 0
    wide = capsys.readouterr().out
    assert wide != narrow and max(map(len, wide.splitlines())) > 80
    stamp = helpcache._package_stamp()
    monkeypatch.setattr(helpcache, "_package_stamp", lambda: [*stamp[:-1], stamp[-1] + "0"])  # a file edited
    assert helpcache.cached(["triage", "--help"]) is None
    monkeypatch.setattr(helpcache, "_libraries_stamp", lambda: ["site-packages/typer-99.0.dist-info"])
    monkeypatch.setattr(helpcache, "_package_stamp", lambda: stamp)
    assert helpcache.cached(["triage", "--help"]) is None  # a library upgraded


def test_arguments_and_failures_are_never_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    secret = str(tmp_path / "exhibit-7731")
    assert cli.main(["triage", secret, "--help"]) == 0  # Click prints triage's help; an argument, not a command
    assert "Usage:" in capsys.readouterr().out
    assert cli.main(["no-such-command", "--help"]) == 2
    capsys.readouterr()
    assert entries() == []
    assert cli.main(["triage", "--help"]) == 0
    assert [p.name for p in entries()] != [] and all(secret not in p.read_text() for p in entries())


@pytest.mark.parametrize(
    ("argv", "answer"),
    [
        (["--help"], True),
        (["hashset", "import", "--help"], True),
        ([], False),
        (["triage"], False),
        (["triage", "--help", "x"], False),
        (["triage", "--case", "c", "--help"], False),
        (["--version", "--help"], False),
    ],
)
def test_help_requests(argv: list[str], answer: bool) -> None:
    assert helpcache.is_help_request(argv) is answer


def test_a_damaged_entry_or_unwritable_cache_falls_back_to_typer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = typer_help(capsys, ["--help"])
    assert cli.main(["--help"]) == 0
    assert capsys.readouterr().out == expected
    (entry,) = entries()
    entry.write_text("12\nnot the key\nforged help\n", encoding="utf-8")
    assert cli.main(["--help"]) == 0
    assert capsys.readouterr().out == expected
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # the cache folder cannot be made
    assert cli.main(["--help"]) == 0
    assert capsys.readouterr().out == expected


def test_a_safenet_variable_is_kept_as_a_digest_never_its_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "postgresql://ops:hunter2-7731@db/ops"
    monkeypatch.setenv("SAFENET_OPS_DB", secret)
    assert cli.main(["--help"]) == 0
    kept = entries()
    assert len(kept) == 1 and "hunter2-7731" not in kept[0].read_text(errors="replace")
    monkeypatch.setenv("SAFENET_OPS_DB", secret + "x")  # another value is still another key
    assert helpcache.cached(["--help"]) is None
    monkeypatch.setenv("SAFENET_OPS_DB", secret)
    assert helpcache.cached(["--help"]) == capsys.readouterr().out
