"""A connected phone as ``safenet devices`` lists it: shared by the Android (ADB) and iOS (lockdown) listers."""

from __future__ import annotations

from dataclasses import dataclass

from safenet.evidence.phone.identity import DeviceIdentity

# The states a listed phone can be in; a lister maps its library's own words onto these.
AUTHORISED = "authorised"  # trusted this computer: its data can be read
UNAUTHORISED = "unauthorised"  # connected, but the owner has not accepted the debugging / trust prompt
OFFLINE = "offline"  # known to the server but not answering
UNKNOWN = "unknown"  # any other state the library reports
STATES = (AUTHORISED, UNAUTHORISED, OFFLINE, UNKNOWN)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One connected phone: its platform ("android" / "ios"), the id to triage it by, its state, and its
    identity when the phone is authorised (None otherwise: an untrusted phone does not say who it is)."""

    platform: str
    ident: str
    state: str
    identity: DeviceIdentity | None
