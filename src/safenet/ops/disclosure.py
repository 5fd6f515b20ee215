"""The disclosure export: everything the operation database holds about one lead or one subject, as JSON."""

from __future__ import annotations

from safenet.ops.access import Actor
from safenet.ops.store import OpsStore


def disclosure(
    store: OpsStore, actor: Actor, *, lead_id: str | None = None, subject_id: str | None = None
) -> dict[str, object]:
    raise NotImplementedError


def disclosure_json(store: OpsStore, actor: Actor, *, lead_id: str | None = None, subject_id: str | None = None) -> str:
    raise NotImplementedError
