"""Shared fixtures. The third-party corpus lives beside the project in ../shared/corpus (read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"test corpus missing at {CORPUS}")
    return CORPUS


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the real hash-set database or user store of the machine it runs on."""
    monkeypatch.setenv("SAFENET_HASHDB", str(tmp_path / "hashdb"))
    monkeypatch.setenv("SAFENET_USERS", str(tmp_path / "users.sqlite"))
