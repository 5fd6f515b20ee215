"""The case database schema (SQLAlchemy; SQLite by default, PostgreSQL for labs).

Stored names (tables, columns, enum values) are part of the case-file format: never rename them
without a migration. ``SCHEMA_VERSION`` is checked when a case is opened.

Version 2 added perceptual matching: the item's own PDQ hash and quality, a finding's distance,
orientation and trimmed flag, and the ``clusters`` table. Version-1 cases are refused, not migrated: a
case is evidence of what a run found, and silently adding empty perceptual columns to it would make a run
look as if it had done perceptual work it never did.

Version 3 added examiner grading: the ``gradings`` table (every grade ever given, newest per item is
current, with its second-examiner confirmation). Version-2 cases are refused for the same reason.

Version 4 added video: an item's container metadata (duration, codec, resolution) and a finding's
``frames`` (which found and known times matched, JSON). Version-3 cases are refused for the same reason.

Version 5 added what a court needs to rely on a review: the ``reveals`` table (who was shown which item at
which step, so a confirmation can require that the confirmer saw the item), a grading row's ``undo_of``
(an undo is a new row restoring the state before the undone one) and ``confirm_reveal_id`` (what the
confirmer was shown), and examiners' per-item ``item_notes`` and ``item_tags``. Version-4 cases are refused.

Version 6 added a grading row's ``frames`` (the frames of a video or animated GIF a grade rests on) and the
``cluster_edits`` table (an examiner's audited split and merge of near-duplicate clusters, applied over the
computed clusters). Version-5 cases are refused.

Version 7 added P2P activity: ``p2p_records`` (each file record a P2P client kept: eMule ``known.met``,
torrents' resume data ..., parsed from an artefact item, with its hashes, shared flag, upload counters and
times), ``p2p_findings`` (a record's hash found in a hash set, with the meaning of a finding's columns) and
``search_terms`` (searches typed into a client; restricted output), and each item's ``ed2k`` digest. A record
is linked to the item with the same content digest when the case is read (``case.activity``), not stored:
the item may be recorded after the record, and a recorded row is never changed. A version-6 case is upgraded
when opened (Alembic, ``case/migrations``), and the upgrade is recorded: a v6 run never looked for P2P records,
so the reports say so for each run made before the upgrade, rather than let an empty table say none was found.
Version 7 also added ``torrent_checks``: for each ``.torrent`` found, whether the files it names are on the
exhibit, piece by piece (the pieces' SHA-1s checked against the files found, ``engine.torrents``).

From version 7 on, every schema change is an Alembic revision in ``case/migrations/versions``.

The ``case_fields`` table (examiner-entered SFR1 fields, ``case.casefields``) came later without a version
bump: an empty table claims nothing a run did, so a version-6 case without it opens as before; the table is
created on the first ``safenet case set``, and until then every entered field reads as "not entered".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 7


class UTCDateTime(TypeDecorator[datetime]):
    """Times are stored in UTC and always come back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the case store; times must be UTC-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Exhibit(Base):
    __tablename__ = "exhibits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(40))
    description_json: Mapped[str] = mapped_column(Text)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"))
    resumed_from: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(40))  # see engine.triage.RunStatus
    profile: Mapped[str] = mapped_column(String(20))
    tool_version: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    config_json: Mapped[str] = mapped_column(Text)  # digests, limits, options
    hashsets_json: Mapped[str] = mapped_column(Text)  # name, source SHA-256, entries, kind, scheme per set
    items_planned: Mapped[int] = mapped_column(Integer, default=0)
    items_not_reached: Mapped[int] = mapped_column(Integer, default=0)  # left when stopped at first hit


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("exhibit_id", "locator", name="uq_item_locator"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True)
    locator: Mapped[str] = mapped_column(Text)  # Locator.to_json(): the truth, reopenable
    display: Mapped[str] = mapped_column(Text)  # str(locator), control characters escaped
    name: Mapped[str] = mapped_column(Text)  # display-safe name
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    modified: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accessed: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    changed: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    time_source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    time_zone_known: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    carved: Mapped[bool] = mapped_column(Boolean, default=False)
    filetype: Mapped[str] = mapped_column(String(20))
    media_kind: Mapped[str] = mapped_column(String(20))
    extension_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))  # see engine.pipeline.ItemStatus
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    sha1: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ed2k: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # P2P clients' file hash
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)  # hex, whole picture as found
    pdq_quality: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0-100
    pdq_low_quality: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it never supports a match
    video_duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)  # videos: as the container says
    video_codec: Mapped[str | None] = mapped_column(String(40), nullable=True)
    video_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    video_height: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("item_id", "hashset", "hash_kind", "entry", name="uq_finding"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    hashset: Mapped[str] = mapped_column(String(200))
    hashset_sha256: Mapped[str] = mapped_column(String(64))
    set_kind: Mapped[str] = mapped_column(String(20))  # illicit | known-good | notable
    hash_kind: Mapped[str] = mapped_column(String(20))  # md5 | sha1 | sha256 (pdq with perceptual matching)
    match_kind: Mapped[str] = mapped_column(String(20))  # exact | perceptual
    category: Mapped[str] = mapped_column(String(40))  # UK scheme code: A, B, C, non-indecent, uncategorised, unknown:*
    category_raw: Mapped[str | None] = mapped_column(String(40), nullable=True)
    scheme: Mapped[str] = mapped_column(String(40))
    entry: Mapped[int] = mapped_column(BigInteger)
    distance: Mapped[int | None] = mapped_column(Integer, nullable=True)  # perceptual: Hamming distance
    orientation: Mapped[str | None] = mapped_column(String(20), nullable=True)  # perceptual: COPY_ORIENTATION
    trimmed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # perceptual: matched inside borders
    # video: JSON [[found s, known s or null (an image), distance], ...], capped (hashsets.video)
    frames: Mapped[str | None] = mapped_column(Text, nullable=True)


class WarningRow(Base):
    __tablename__ = "warnings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    locator: Mapped[str | None] = mapped_column(Text, nullable=True)
    display: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClusterRow(Base):
    """Near-duplicate clusters of unknown images (``safenet cluster``): one row per member item.

    Rebuilt as a whole each time (derived data, not a finding); only clusters of two or more are kept.
    """

    __tablename__ = "clusters"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    cluster: Mapped[int] = mapped_column(Integer, index=True)  # 1.. in order of each cluster's first item
    threshold: Mapped[int] = mapped_column(Integer)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClusterEditRow(Base):
    """An examiner's manual edit of the near-duplicate clusters (version 6), applied in id order over the
    computed ``clusters`` each time they are read, so it survives ``safenet cluster`` being run again.

    ``split``: ``item_id`` leaves its cluster (it stands alone). ``merge``: every member of the cluster that
    ``other_item_id`` is in joins the cluster that ``item_id`` is in. Items, not cluster numbers, are named,
    because a rebuild renumbers clusters. Edits are added, never changed; each is audited.
    """

    __tablename__ = "cluster_edits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(10))  # split | merge
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    other_item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), nullable=True)
    user: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class GradingRow(Base):
    """One examiner's grade of one item (``case.gradings``). Rows are never deleted or regraded in place:
    a new grade is a new row, and the newest row per item is the current grade. Confirmation by a second
    examiner is set once on the row it confirms.
    """

    __tablename__ = "gradings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    grade: Mapped[str] = mapped_column(String(20))  # see case.gradings.Grade
    examiner: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # version 5: the row this one undoes (it restores the state before that row), and the reveal that showed
    # the item to its confirmer (a confirmation needs one)
    undo_of: Mapped[int | None] = mapped_column(ForeignKey("gradings.id"), nullable=True)
    confirm_reveal_id: Mapped[int | None] = mapped_column(ForeignKey("reveals.id"), nullable=True)
    # version 6: a video's (or animated GIF's) grade may name the frames it rests on: JSON list of frame indexes
    frames: Mapped[str | None] = mapped_column(Text, nullable=True)


class RevealRow(Base):
    """One reveal of an item to one user at one step (``case.gradings.record_reveal``); closed once."""

    __tablename__ = "reveals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    user: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    step: Mapped[str] = mapped_column(String(20))  # large-blurred | grey | colour
    frame: Mapped[int | None] = mapped_column(Integer, nullable=True)  # videos and GIFs: which frame
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)  # closed | expired | navigated


class NoteRow(Base):
    """An examiner's free-text note on an item; notes are added, never edited."""

    __tablename__ = "item_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    user: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)


class TagRow(Base):
    """A short tag on an item (one row per item and tag)."""

    __tablename__ = "item_tags"
    __table_args__ = (UniqueConstraint("item_id", "tag", name="uq_item_tag"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    tag: Mapped[str] = mapped_column(String(60))
    user: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseFieldRow(Base):
    """One examiner-entered field of the case or of one exhibit (``case.casefields``): values are added, never
    changed; the newest row per (exhibit, field) is current. Each row is audited (``case-field-set``).
    """

    __tablename__ = "case_fields"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exhibit: Mapped[str | None] = mapped_column(String(200), nullable=True)  # an exhibit label; None: the case
    field: Mapped[str] = mapped_column(String(60))
    value: Mapped[str] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class P2PRecordRow(Base):
    """One file record a P2P client kept (version 7), as ``analysis.p2p`` parsed it from an artefact item.

    ``item_id`` is the artefact (the client's ``known.met``, ``resume.dat`` ...); ``entry_index`` the record's
    position in it, so the artefact's locator and the index name the record. Text from the artefact is kept
    display-safe, with the exact name as a JSON string literal (``name_raw``). Counters a client does not keep
    are NULL, never 0. Times are UTC; ``zone_known`` false: the client wrote local time of an unknown zone.
    """

    __tablename__ = "p2p_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    parser: Mapped[str] = mapped_column(String(60))  # analysis.p2p parser NAME, e.g. emule-known-met
    client: Mapped[str] = mapped_column(String(40))
    artefact: Mapped[str] = mapped_column(String(60))
    entry_index: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text)
    name_raw: Mapped[str] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    hashes: Mapped[str] = mapped_column(Text)  # JSON {kind: lowercase hex}, sorted by kind
    shared: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    completed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    uploaded_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    upload_requests: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    accepted_requests: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    added: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_shared: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    zone_known: Mapped[bool] = mapped_column(Boolean, default=True)
    save_path: Mapped[str] = mapped_column(Text)
    extra: Mapped[str] = mapped_column(Text)  # JSON {field: text}, other client fields worth printing


class P2PFindingRow(Base):
    """A P2P record's hash found in a hash set (version 7): a finding's columns, for a record, not an item."""

    __tablename__ = "p2p_findings"
    __table_args__ = (UniqueConstraint("record_id", "hashset", "hash_kind", "entry", name="uq_p2p_finding"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("p2p_records.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    hashset: Mapped[str] = mapped_column(String(200))
    hashset_sha256: Mapped[str] = mapped_column(String(64))
    set_kind: Mapped[str] = mapped_column(String(20))
    hash_kind: Mapped[str] = mapped_column(String(20))  # md5 | sha1 | sha256 | ed2k | btih
    category: Mapped[str] = mapped_column(String(40))
    category_raw: Mapped[str | None] = mapped_column(String(40), nullable=True)
    scheme: Mapped[str] = mapped_column(String(40))
    entry: Mapped[int] = mapped_column(BigInteger)


class SearchTermRow(Base):
    """A search typed into a P2P client (version 7), parsed from an artefact item. Restricted output."""

    __tablename__ = "search_terms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    parser: Mapped[str] = mapped_column(String(60))
    client: Mapped[str] = mapped_column(String(40))
    artefact: Mapped[str] = mapped_column(String(60))
    entry_index: Mapped[int] = mapped_column(BigInteger)
    term: Mapped[str] = mapped_column(Text)  # display-safe
    term_raw: Mapped[str] = mapped_column(Text)  # the exact term as a JSON string literal
    at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TorrentCheckRow(Base):
    """A ``.torrent``'s pieces checked against the files it names found on its exhibit (version 7).

    ``record_id`` is the torrent's own P2P record (entry 0 of the ``.torrent`` item ``item_id``). ``status``:
    complete (every piece matched), partial, not-present (no file found), ambiguous (a file had two or more
    candidates of the same name and size: none was guessed), not-verifiable (no version-1 pieces, or the
    torrent contradicts itself; ``problem`` says which). ``files`` is JSON, one entry per file in torrent order:
    {path, length, state: found|missing|ambiguous, rule: save-path|name-size|null, item_id (the item read),
    candidates (item ids of an ambiguous file), read: whole|short|failed|null}.
    """

    __tablename__ = "torrent_checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    record_id: Mapped[int] = mapped_column(ForeignKey("p2p_records.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    info_hash: Mapped[str] = mapped_column(String(40))  # BTIH, lowercase hex ("" for a version-2-only torrent)
    status: Mapped[str] = mapped_column(String(20))
    pieces: Mapped[int] = mapped_column(BigInteger)
    matched: Mapped[int] = mapped_column(BigInteger)
    mismatched: Mapped[int] = mapped_column(BigInteger)
    unavailable: Mapped[int] = mapped_column(BigInteger)
    files_found: Mapped[int] = mapped_column(BigInteger)
    files_missing: Mapped[int] = mapped_column(BigInteger)
    files_ambiguous: Mapped[int] = mapped_column(BigInteger)
    problem: Mapped[str] = mapped_column(Text)
    files: Mapped[str] = mapped_column(Text)


Index("ix_findings_kind", Finding.set_kind, Finding.category)
