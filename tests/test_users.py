"""Users of an installation: argon2id hashes, roles, refusals, the owner-only file and the CLI."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from safenet.cli import Exit, main
from safenet.users import Role, UserError, UserStore, default_users_path

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # argon2id, cheap for tests
GOOD = "correct horse battery"


@pytest.fixture(autouse=True)
def _isolated_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFENET_USERS", str(tmp_path / "users" / "users.sqlite"))


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    return UserStore(tmp_path / "u" / "users.sqlite", hasher=FAST)


def test_add_authenticate_and_list(store: UserStore) -> None:
    alice = store.add("alice", Role.EXAMINER, GOOD)
    store.add("bob", Role.REVIEWER, GOOD + "!")
    assert alice.role is Role.EXAMINER and alice.created_at.tzinfo is not None
    assert store.authenticate("alice", GOOD) == alice
    assert store.authenticate("alice", GOOD + "x") is None
    assert store.authenticate("nobody", GOOD) is None
    assert store.get("bob") is not None and store.get("carol") is None
    assert [(u.name, u.role) for u in store.list()] == [("alice", Role.EXAMINER), ("bob", Role.REVIEWER)]


def test_passwords_are_argon2id_hashes_in_an_owner_only_file(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "new" / "users.sqlite")  # the real (default) parameters
    store.add("alice", Role.ADMIN, GOOD)
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert store.path.parent.stat().st_mode & 0o077 == 0
    with sqlite3.connect(store.path) as db:
        [(stored,)] = db.execute("SELECT password_hash FROM users").fetchall()
        events = db.execute("SELECT action, name, role FROM user_events").fetchall()
    db.close()
    assert stored.startswith("$argon2id$") and GOOD not in stored
    assert events == [("added", "alice", "admin")]
    assert store.authenticate("alice", GOOD) is not None


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("alice", "short", "too short"),
        ("alicealicealice", "alicealicealice", "must not be the user name"),
        ("<script>", GOOD, "not allowed"),
        ("", GOOD, "not allowed"),
        ("a b", GOOD, "not allowed"),
    ],
)
def test_weak_passwords_and_bad_names_are_refused(store: UserStore, name: str, password: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        store.add(name, Role.EXAMINER, password)
    assert store.list() == []


def test_duplicates_unknown_users_and_the_last_admin(store: UserStore) -> None:
    store.add("root", Role.ADMIN, GOOD)
    with pytest.raises(UserError, match="already exists"):
        store.add("root", Role.VIEWER, GOOD)
    with pytest.raises(UserError, match="no user named ghost"):
        store.remove("ghost")
    with pytest.raises(UserError, match="last admin"):
        store.set_role("root", Role.VIEWER)
    with pytest.raises(UserError, match="last admin"):
        store.remove("root")
    store.add("second", Role.EXAMINER, GOOD)
    assert store.set_role("second", Role.ADMIN).role is Role.ADMIN
    assert store.set_role("root", Role.REVIEWER).role is Role.REVIEWER
    store.remove("root")
    assert [u.name for u in store.list()] == ["second"]
    assert store.authenticate("root", GOOD) is None


def test_default_path_follows_env_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_users_path() == tmp_path / "users" / "users.sqlite"
    monkeypatch.delenv("SAFENET_USERS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_users_path() == tmp_path / "xdg" / "safenet" / "users.sqlite"


def test_a_folder_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(UserError, match="is not a users file"):
        UserStore(tmp_path / "dir.sqlite", hasher=FAST).list()


def _cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_users_commands(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(
        monkeypatch, capsys, "users", "add", "alice", "--role", "admin", "--password-stdin", stdin=GOOD + "\n"
    )
    assert code == 0 and "added alice (admin)" in out
    code, out, _ = _cli(
        monkeypatch, capsys, "users", "add", "bob", "--role", "examiner", "--password-stdin", stdin=GOOD + "\n"
    )
    assert code == 0
    code, out, _ = _cli(monkeypatch, capsys, "users", "list")
    assert code == 0 and "alice" in out and "examiner" in out
    code, out, _ = _cli(monkeypatch, capsys, "users", "set-role", "bob", "--role", "reviewer")
    assert code == 0 and "bob is now reviewer" in out
    code, out, _ = _cli(monkeypatch, capsys, "users", "remove", "bob")
    assert code == 0 and "removed bob" in out
    assert UserStore().authenticate("alice", GOOD) is not None


def test_users_command_mistakes_are_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(
        monkeypatch, capsys, "users", "add", "al", "--role", "viewer", "--password-stdin", stdin="short\n"
    )
    assert code == Exit.USAGE and "too short" in err and "Traceback" not in err
    code, _, err = _cli(monkeypatch, capsys, "users", "remove", "ghost")
    assert code == Exit.USAGE and "no user named ghost" in err
    code, _, err = _cli(monkeypatch, capsys, "users", "add", "al", "--role", "boss", "--password-stdin", stdin=GOOD)
    assert code == Exit.USAGE


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")
def test_users_add_prompts_twice(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(monkeypatch, capsys, "users", "add", "carol", "--role", "viewer", stdin=f"{GOOD}\n{GOOD}\n")
    assert code == 0 and "added carol (viewer)" in out
