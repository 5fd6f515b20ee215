"""Fixtures of the operation's tests: a fresh operation database and one actor per role (test modules import
``ops`` from here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from safenet.ops.access import Actor
from safenet.ops.store import OpsStore
from safenet.users import Role


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[OpsStore]:
    store = OpsStore.open(tmp_path / "ops" / "ops.sqlite", create=True)
    yield store
    store.close()


def actor(role: Role) -> Actor:
    return Actor(f"{role.value}1", role)


ANALYST = actor(Role.ANALYST)
SUPERVISOR = actor(Role.SUPERVISOR)
EXAMINER = actor(Role.EXAMINER)
REVIEWER = actor(Role.REVIEWER)
VIEWER = actor(Role.VIEWER)
ADMIN = actor(Role.ADMIN)
