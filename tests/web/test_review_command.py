"""``safenet review``: loopback by default, a flag and a warning for anything else, the URL printed."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from safenet.cli import main
from safenet.commands.review import is_loopback
from tests.web.conftest import Built


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `safenet review` would serve: the app, its settings and the socket it bound (closed here)."""
    calls: list[dict[str, Any]] = []

    def run(server: uvicorn.Server, sockets: list[socket.socket] | None = None) -> None:
        [sock] = sockets or []
        host, port = sock.getsockname()[:2]
        sock.close()
        app = server.config.app
        assert server.config.proxy_headers is False  # uvicorn would believe X-Forwarded-For from loopback
        calls.append({"app": app, "host": host, "port": port, "settings": app.state.web.settings})

    monkeypatch.setattr(uvicorn.Server, "run", run)
    return calls


def test_serves_on_loopback_by_default_and_prints_the_url(
    built: Built, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    code = main(["review", str(built.case), "--users-file", str(users_template), "--port", str(port)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"http://127.0.0.1:{port}/" in out.out and "warning" not in out.err
    [call] = served
    assert (call["host"], call["port"]) == ("127.0.0.1", port)
    assert call["app"].state.web.case.audit.entries()[-1]["event"] == "review-served"
    settings = call["settings"]
    assert settings.secure_cookies is False and settings.trusted_proxies == ()
    assert settings.allowed_hosts == ("127.0.0.1", "localhost")


def test_a_network_address_needs_a_flag_and_prints_a_warning(
    built: Built, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["review", str(built.case), "--users-file", str(users_template), "--host", "0.0.0.0"]
    assert main(base) == 2
    assert "--allow-remote" in capsys.readouterr().err and not served
    port = free_port()
    assert main([*base, "--allow-remote", "--port", str(port)]) == 0
    out = capsys.readouterr()
    assert "warning: serving on 0.0.0.0" in out.err and f"http://0.0.0.0:{port}/" in out.out
    assert served[0]["host"] == "0.0.0.0" and served[0]["settings"].allowed_hosts is None


def test_a_port_in_use_exits_3_with_one_sentence_and_audits_nothing(
    built: Built, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    before = (built.case / "audit.jsonl").read_bytes()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["review", str(built.case), "--users-file", str(users_template), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 3 and not served
    assert f"port {port}" in err and "--port" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (built.case / "audit.jsonl").read_bytes() == before


def test_public_url_sets_secure_cookies_and_the_only_host_answered(
    built: Built, users_template: Path, served: list[dict[str, Any]]
) -> None:
    args = ["review", str(built.case), "--users-file", str(users_template), "--port", str(free_port())]
    extra = ["--public-url", "https://review.lab.example/", "--trusted-proxy", "127.0.0.1"]
    assert main([*args, *extra]) == 0
    app = served[0]["app"]
    settings = served[0]["settings"]
    assert settings.secure_cookies is True and settings.allowed_hosts == ("review.lab.example",)
    assert settings.trusted_proxies == ("127.0.0.1",)
    good = TestClient(app, base_url="https://review.lab.example", follow_redirects=False)
    response = good.get("/login")
    assert response.status_code == 200 and "secure" in response.headers["set-cookie"].lower()
    assert TestClient(app, base_url="https://evil.example").get("/login").status_code == 400
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/login").status_code == 400
    app.state.web.case.close()


@pytest.mark.parametrize(
    "bad", [["--public-url", "ftp://x.example"], ["--public-url", "review"], ["--trusted-proxy", "a.b"]]
)
def test_bad_public_url_or_proxy_is_a_usage_error(
    built: Built, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], bad: list[str]
) -> None:
    assert main(["review", str(built.case), "--users-file", str(users_template), *bad]) == 2
    assert bad[1] in capsys.readouterr().err and not served


def test_refuses_without_users_or_without_a_case(
    built: Built, tmp_path: Path, users_template: Path, served: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", str(built.case), "--users-file", str(tmp_path / "none.sqlite")]) == 2
    assert "safenet users add" in capsys.readouterr().err
    port = str(free_port())
    assert main(["review", str(tmp_path / "nocase"), "--users-file", str(users_template), "--port", port]) == 5
    assert not served


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.10", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
