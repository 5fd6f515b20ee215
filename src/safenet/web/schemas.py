"""Request schemas: every value from the browser is parsed and bounded here, before any handler runs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safenet.case.gradings import MAX_GRADE_FRAMES, Grade
from safenet.web.ids import ItemIdValue

MAX_BULK = 5000
FrameIndex = Annotated[int, Field(ge=0, le=1_000_000)]


class Filters(BaseModel):
    """The review grid's filters (query string). Empty form values mean "any"."""

    model_config = ConfigDict(extra="forbid")

    exhibit: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=40)
    match: Literal["exact", "perceptual", "none"] | None = None
    state: Literal["live", "deleted"] | None = None
    media: Literal["image", "video"] | None = None
    source: Literal["live", "deleted", "carved", "embedded", "cache", "archive member"] | None = None
    path: str | None = Field(None, max_length=1000)  # start of the display path
    cluster: int | None = Field(None, ge=1, le=2**31)  # the cluster view: one cluster, every member
    min_kb: int | None = Field(None, ge=0, le=2**40)
    max_kb: int | None = Field(None, ge=0, le=2**40)
    since: date | None = None  # modified on or after (UTC day)
    until: date | None = None  # modified on or before (UTC day)
    sort: Literal["group", "name", "size", "modified"] = "group"
    matched: bool = False
    collapse: bool = False  # one representative card per near-duplicate cluster (E opens the cluster)
    page: int = Field(1, ge=1, le=100_000)

    @field_validator(
        "exhibit",
        "category",
        "match",
        "state",
        "media",
        "source",
        "path",
        "cluster",
        "min_kb",
        "max_kb",
        "since",
        "until",
        mode="before",
    )
    @classmethod
    def _blank_is_any(cls, value: Any) -> Any:
        return None if value == "" else value

    def query(self, **change: Any) -> str:
        """This filter set as a query string (for pagination links), with ``change`` applied."""
        from urllib.parse import urlencode

        data = {k: v for k, v in self.model_dump().items() if v not in (None, False) and (k, v) != ("sort", "group")}
        data.update(change)
        return urlencode({k: ("1" if v is True else v) for k, v in data.items()})


class GradeRequest(BaseModel):
    """Grade the focused item, a selection, or the members of a cluster the grader was shown.

    A cluster grade names the members shown (``item_ids``) and the cluster; the server grades only those
    that are reviewable members of it. A bulk grade never replaces another grade unless ``overwrite``.
    ``frames``: a video's (or animated GIF's) grade may name the frames it rests on (frame strip indexes).
    """

    model_config = ConfigDict(extra="forbid")

    grade: Grade
    item_ids: list[ItemIdValue] = Field(default_factory=list, max_length=MAX_BULK)
    cluster_id: int | None = Field(None, ge=1, le=2**31)
    overwrite: bool = False
    frames: list[FrameIndex] | None = Field(None, min_length=1, max_length=MAX_GRADE_FRAMES)


class SplitRequest(BaseModel):
    """Take these items out of their near-duplicate clusters (a manual edit, audited)."""

    model_config = ConfigDict(extra="forbid")

    item_ids: list[ItemIdValue] = Field(min_length=1, max_length=MAX_BULK)


class MergeRequest(BaseModel):
    """Merge cluster ``other_cluster_id`` into cluster ``cluster_id`` (numbers as the grid shows them)."""

    model_config = ConfigDict(extra="forbid")

    cluster_id: int = Field(ge=1, le=2**31)
    other_cluster_id: int = Field(ge=1, le=2**31)


class UndoRequest(BaseModel):
    """Undo grading rows this user wrote (the ids the grade answers gave)."""

    model_config = ConfigDict(extra="forbid")

    row_ids: list[ItemIdValue] = Field(min_length=1, max_length=MAX_BULK)  # row ids have the same range


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class TagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str = Field(min_length=1, max_length=60)


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[ItemIdValue] = Field(min_length=1, max_length=MAX_BULK)
