"""Alembic revisions of the case database, and what opening an older case does with them.

``case_0006`` is the baseline (a case as schema version 6, the previous release, wrote it); ``case_0007``
brings it to version 7. A new case is created whole and stamped at the newest revision. A version-6 case is
upgraded when this Safenet opens it, holding the case exclusively: stamped at the baseline, upgraded in one
transaction, the upgrade recorded in ``meta`` (``schema_upgrades``: from, to, when, by which Safenet, and the
last run id it covers) and in the audit log (``case-schema-upgraded``, with the columns it added to tables
whose rows were digested before: ``verify`` re-derives those digests without them). Older versions are
refused as before: what they lack (perceptual matching, grading) cannot be added after the fact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text

from safenet.schema_upgrade import current, stamp, upgrade

if TYPE_CHECKING:
    from safenet.case.schema import Run
    from safenet.case.store import Case

SCRIPTS = "safenet.case:migrations"
HEAD = "case_0007"
BASELINES = {"6": "case_0006"}  # schema_version -> the revision a case of that version is at
UPGRADES_KEY = "schema_upgrades"
UPGRADE_EVENT = "case-schema-upgraded"
#: what each version added to tables whose rows earlier runs digested into the audit log
ADDED_COLUMNS = {7: {"items": ["ed2k"]}}
#: what a run made before an upgrade to each version did not do (printed per exhibit in the reports)
NOT_DONE = {7: "did not parse P2P client artefacts or compute ED2K digests"}


def stamp_new(connection: Connection) -> None:
    """A case just created whole from the models is at the newest revision.

    Written as Alembic's stamp writes it (its version table, one row), without loading Alembic: that took a
    few tenths of a second of every new case's start, before the first file was read."""
    connection.execute(
        text(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": HEAD})


def upgradable(version: str) -> bool:
    return version in BASELINES


def upgrade_case(case: Case, found: str) -> None:
    """Bring a case of an older, upgradable schema version to the current one (the caller holds it exclusively)."""
    from safenet import __version__
    from safenet.case.schema import SCHEMA_VERSION

    with case.engine.begin() as connection:
        version = connection.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
        if str(version) != found:  # another process upgraded it while we waited
            return
        if current(connection) is None:
            stamp(connection, SCRIPTS, BASELINES[found])
        inspector = inspect(connection)
        before = {
            table: {c["name"] for c in inspector.get_columns(table)} for per in ADDED_COLUMNS.values() for table in per
        }
        upgrade(connection, SCRIPTS, HEAD)
        last_run = connection.execute(text("SELECT coalesce(max(id), 0) FROM runs")).scalar_one()
        added = {
            table: [c for c in names if c not in before[table]]
            for to, tables in ADDED_COLUMNS.items()
            if to > int(found)
            for table, names in tables.items()
        }
        record = {
            "from": int(found),
            "to": SCHEMA_VERSION,
            "at": datetime.now(UTC).isoformat(),
            "by": f"safenet {__version__}",
            "last_run": int(last_run),
        }
        raw = connection.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": UPGRADES_KEY}).scalar()
        upgrades = [*json.loads(raw or "[]"), record]
        connection.execute(
            text("INSERT INTO meta (key, value) VALUES (:k, :v) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
            {"k": UPGRADES_KEY, "v": json.dumps(upgrades, sort_keys=True)},
        )
    case.audit.append(UPGRADE_EVENT, **record, columns_added={t: c for t, c in added.items() if c}, revision=HEAD)


def upgrades(case: Case) -> list[dict[str, Any]]:
    """The upgrades this case went through (oldest first)."""
    with case.engine.connect() as connection:
        raw = connection.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": UPGRADES_KEY}).scalar()
    loaded: list[dict[str, Any]] = json.loads(raw or "[]")
    return loaded


def pre_upgrade_notes(case: Case, runs: list[Run]) -> list[str]:
    """One line per run of an exhibit made before an upgrade: what that run did not do."""
    notes = []
    for record in upgrades(case):
        missing = [NOT_DONE[v] for v in range(int(record["from"]) + 1, int(record["to"]) + 1) if v in NOT_DONE]
        for run in runs:
            if run.id <= int(record["last_run"]) and missing:
                notes.append(
                    f"run {run.id} (Safenet {run.tool_version}) was recorded in case schema version "
                    f"{record['from']}, before this case was upgraded on {record['at'][:10]}: it "
                    + " and ".join(missing)
                    + "; nothing of that kind is reported for it"
                )
    return notes
