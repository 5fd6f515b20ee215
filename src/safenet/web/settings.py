"""Settings of one running review server, and the per-user display preferences.

Why a frozen dataclass with an injectable clock: tests move time forward (break reminder, reveal expiry,
session expiry) without sleeping, and nothing reads module-global configuration.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from safenet.analysis.thumbs import BLUR_LEVELS, DEFAULT_BLUR, DEFAULT_THUMB_SIZE, THUMB_SIZES

__all__ = ["BLUR_LEVELS", "DEFAULT_BLUR", "DEFAULT_THUMB_SIZE", "THUMB_SIZES", "Preferences", "WebSettings"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """How the review server behaves; every field has a safe default."""

    #: Key for signing; random per process unless configured (sessions then do not survive a restart).
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    #: A logged-in session ends after this long without a request.
    session_idle: timedelta = timedelta(minutes=30)
    #: How long a revealed item's clear picture may be fetched by the user who revealed it.
    reveal_for: timedelta = timedelta(seconds=60)
    #: A break reminder shows after this long of reviewing (docs/domain.md, examiner welfare: every hour).
    break_after: timedelta = timedelta(minutes=60)
    #: Largest side of a revealed picture as served (it is re-encoded, never the evidence file itself).
    clear_max_side: int = 1024
    #: Largest side of the first reveal step, "large-blurred" (bigger than a thumbnail, still blurred, grey).
    large_blurred_side: int = 512
    #: Largest evidence file read into memory for a thumbnail or a reveal.
    max_read_bytes: int = 256 << 20
    #: Items shown on one grid page.
    page_size: int = 200
    #: Set the cookie's Secure flag (when served behind TLS).
    secure_cookies: bool = False
    #: Failed logins for one user name, or from one client, within ``login_window`` before a cooling-off.
    login_attempts: int = 5
    login_window: timedelta = timedelta(minutes=15)
    #: How long further logins are refused once the limit is reached (HTTP 429).
    login_cooloff: timedelta = timedelta(minutes=15)
    clock: Callable[[], datetime] = _utc_now


@dataclass(slots=True)
class Preferences:
    """One user's thumbnail size and blur level (kept per user name for the life of the server)."""

    size: int = DEFAULT_THUMB_SIZE
    blur: int = DEFAULT_BLUR

    @classmethod
    def parse(cls, size: int, blur: int) -> Preferences:
        if size not in THUMB_SIZES:
            raise ValueError(f"thumbnail size must be one of {THUMB_SIZES}")
        if blur not in BLUR_LEVELS:
            raise ValueError(f"blur level must be one of {sorted(BLUR_LEVELS)}")
        return cls(size, blur)
