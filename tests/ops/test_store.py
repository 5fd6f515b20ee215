"""The operation database: created through its Alembic revisions, which must build exactly what the models
describe; owner-only; a missing database is one sentence."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from safenet.ops.errors import StoreUnavailable
from safenet.ops.schema import Base
from safenet.ops.store import OpsStore


def test_the_revisions_build_what_the_models_describe(tmp_path: Path) -> None:
    store = OpsStore.open(tmp_path / "ops" / "ops.sqlite", create=True)
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert MigrationContext.configure(connection).get_current_revision() == "ops_0001"
    store.close()
    assert stat.S_IMODE((tmp_path / "ops").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "ops" / "ops.sqlite").stat().st_mode) == 0o600
    OpsStore.open(tmp_path / "ops" / "ops.sqlite").close()  # opening again: already at the newest revision


def test_a_missing_database_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(
        StoreUnavailable, match=r"there is no operation database at .*; create it with `safenet ops init`"
    ):
        OpsStore.open(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # a server URL carries a password: a message naming the database must not print it
        (  # a server that is not there (a socket folder that does not exist: nothing leaves the machine)
            "postgresql+psycopg://ann:s3cret-pw@/ops?host=/no/such/folder",
            "the operation database postgresql+psycopg://ann:***@/ops?host=%2Fno%2Fsuch%2Ffolder cannot be opened",
        ),
        ("nosuchdb://ann:s3cret-pw@host/ops", "the operation database nosuchdb://ann:***@host/ops cannot be opened"),
        ("postgresql+nodriver://ann:s3cret-pw@host/ops", "the operation database postgresql+nodriver://ann:***@"),
        # a port or an IPv6 host that cannot be read: SQLAlchemy raises ValueError, not ArgumentError
        ("postgresql://ann:s3cret-pw@host:abc/ops", "the operation database URL is not a database URL"),
        ("postgresql://ann:s3cret-pw@[::1/ops", "the operation database URL is not a database URL"),
    ],
)
def test_a_database_url_that_cannot_be_opened_is_one_sentence_without_its_password(url: str, expected: str) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        OpsStore.open(url)
    assert str(caught.value).startswith(expected) and "s3cret-pw" not in str(caught.value)


@pytest.mark.parametrize("text", ["V-\u00b2", "V-99999999999999999999", "V-\u0661"])
def test_an_id_that_is_no_row_number_is_one_sentence(tmp_path: Path, text: str) -> None:
    # str.isdigit() takes superscripts (which int() refuses) and any length (which SQLite refuses)
    from safenet.ops.errors import OpsError
    from safenet.ops.ids import VISIT, row_of
    from safenet.ops.schema import VisitRow

    store = OpsStore.open(tmp_path / "ops.sqlite", create=True)
    with pytest.raises(OpsError, match=r"is not a V- id \(e\.g\. V-12\)$"), store.session() as s:
        row_of(s, VisitRow, VISIT, text, "there is no visit")
    store.close()


def test_a_text_longer_than_its_column_is_one_sentence_on_sqlite_too(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from safenet.ops.errors import OpsError
    from safenet.ops.leads import LeadIn, set_subscriber, store_leads
    from safenet.ops.subjects import set_risk
    from tests.ops.opsfixtures import ANALYST

    store = OpsStore.open(tmp_path / "ops.sqlite", create=True)
    when = datetime(2026, 12, 1, 21, tzinfo=UTC)
    store_leads(store, ANALYST, [LeadIn("p2p", "R1", when, "t", "UTC", "203.0.113.1", None, "0" * 32, "md5", "t")])
    with pytest.raises(OpsError, match=r"^the address key is longer than 400 characters$"):
        set_subscriber(store, ANALYST, "L-1", "a" * 450)
    set_subscriber(store, ANALYST, "L-1", "1 High Street")
    with pytest.raises(OpsError, match=r"^the risk level is longer than 40 characters$"):
        set_risk(store, ANALYST, "S-1", "h" * 41, "reasons")
    store.close()
