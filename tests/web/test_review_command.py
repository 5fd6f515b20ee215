"""``safenet review``: loopback by default, a flag and a warning for anything else, the URL printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn

from safenet.cli import main
from safenet.commands.review import is_loopback
from tests.web.conftest import Built


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    return calls


def test_serves_on_loopback_by_default_and_prints_the_url(
    built: Built, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["review", str(built.case), "--users-file", str(users_template)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "http://127.0.0.1:8765/" in out.out and "warning" not in out.err
    [call] = served
    assert (call["host"], call["port"]) == ("127.0.0.1", 8765)
    assert call["app"].state.web.case.audit.entries()[-1]["event"] == "review-served"


def test_a_network_address_needs_a_flag_and_prints_a_warning(
    built: Built, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["review", str(built.case), "--users-file", str(users_template), "--host", "0.0.0.0"]
    assert main(base) == 2
    assert "--allow-remote" in capsys.readouterr().err and not served
    assert main([*base, "--allow-remote", "--port", "9000"]) == 0
    out = capsys.readouterr()
    assert "warning: serving on 0.0.0.0" in out.err and "http://0.0.0.0:9000/" in out.out
    assert served[0]["host"] == "0.0.0.0"


def test_refuses_without_users_or_without_a_case(
    built: Built, tmp_path: Path, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", str(built.case), "--users-file", str(tmp_path / "none.sqlite")]) == 2
    assert "safenet users add" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "nocase"), "--users-file", str(users_template)]) == 5
    assert not served


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.10", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
