"""Help texts a newcomer reads first: defaults shown whole, evidence kinds and report formats named."""

from __future__ import annotations

import pytest

from safenet.cli import main


def help_of(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *command: str) -> str:
    monkeypatch.setenv("COLUMNS", "200")  # one option a line: phrases are not wrapped apart
    assert main([*command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("command", "text"),
    [
        (("hashset", "list"), "Hash-set database folder (default: ~/.local/share/safenet/hashsets)."),
        (("users", "list"), "Users database file (default: ~/.local/share/safenet/users.sqlite)."),
    ],
)
def test_default_folders_are_shown_not_eaten_as_markup(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], text: str
) -> None:
    # Square brackets in a help text are read as console markup and vanished, leaving "folder ."
    assert text in help_of(capsys, monkeypatch, *command)


def test_triage_help_names_disk_images_and_devices(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = help_of(capsys, monkeypatch, "triage")
    assert "disk image" in text and "device" in text


def test_report_help_lists_every_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from safenet.report.writers import WRITERS

    text = help_of(capsys, monkeypatch, "report")
    for name in WRITERS:
        assert name in text, name
