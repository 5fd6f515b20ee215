"""Shared fixtures. Third-party test data lives in tests/data (see tests/datafiles.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.datafiles import DATA

# The tests run as on a plain terminal of 80 columns wherever they run; subprocesses inherit this. A CI service's
# colour settings make Typer and Rich colour every line of output (Typer decides when it is imported), which breaks
# the tests' checks of what commands print: with GITHUB_ACTIONS or PY_COLORS set one test failed, with FORCE_COLOR
# 23. A narrow COLUMNS wraps the summary's table (COLUMNS=40: test_cli failed); 80 is Rich's width off a terminal.
for _name in ("GITHUB_ACTIONS", "FORCE_COLOR", "PY_COLORS", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "LINES"):
    os.environ.pop(_name, None)
os.environ["COLUMNS"] = "80"


@pytest.fixture
def corpus() -> Path:
    """The third-party test data folder, tests/data."""
    return DATA


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the real hash-set database or user store of the machine it runs on."""
    monkeypatch.setenv("SAFENET_HASHDB", str(tmp_path / "hashdb"))
    monkeypatch.setenv("SAFENET_USERS", str(tmp_path / "users.sqlite"))
    monkeypatch.setenv("SAFENET_AUDIT_KEY", str(tmp_path / "audit-key.pem"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the installation's data folder (validation record)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # the kept help texts (safenet.helpcache)
