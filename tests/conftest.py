"""Shared fixtures. Third-party test data lives in tests/data (see tests/datafiles.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.datafiles import DATA


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
