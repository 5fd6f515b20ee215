"""The operation's errors: each message is one sentence saying what is wrong and what to do."""

from __future__ import annotations


class OpsError(Exception):
    """A request on the operation database cannot be done (unknown lead, bad value ...)."""


class AccessDenied(OpsError):
    """The acting user's role may not view or change this field group."""


class ImportFailed(OpsError):
    """A lead file or its mapping is wrong; the message names the file and line."""


class StoreUnavailable(OpsError):
    """The operation database cannot be opened or upgraded (exit 5, like a case folder problem)."""
