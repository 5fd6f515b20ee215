"""``safenet devices``: the phones connected to this computer, with their state and identity.

Android phones come from the adb server (``evidence.phone.android_live``); iPhones and iPads from lockdown
(``evidence.phone.ios_live.list_ios_devices``, when that back-end is installed). Listing reads only what the
phones say about themselves; nothing is written to them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from safenet.commands.common import Exit, err, fail, out
from safenet.evidence.locator import display_safe

if TYPE_CHECKING:
    from safenet.evidence.phone.devices import DeviceRow
    from safenet.evidence.phone.identity import DeviceIdentity

# What to do about a phone that cannot be read yet, by state.
_ADVICE = {
    "unauthorised": "unlock it and accept the USB debugging (or Trust) prompt",
    "offline": "unplug and reconnect it",
    "unknown": "not started normally, or still connecting: `adb devices` shows its state",
}


def _listers() -> list[tuple[str, Callable[[], list[DeviceRow]]]]:
    from safenet.evidence.phone.android_live import list_android_devices

    listers: list[tuple[str, Callable[[], list[DeviceRow]]]] = [("android", list_android_devices)]
    try:  # the iOS back-end may not be installed in this build: Android phones are listed regardless
        from safenet.evidence.phone import ios_live
    except ImportError:
        return listers
    ios = getattr(ios_live, "list_ios_devices", None)
    if ios is not None:
        listers.append(("ios", ios))
    return listers


def _who(identity: DeviceIdentity | None) -> str:
    if identity is None:
        return ""
    parts = [" ".join(p for p in (identity.manufacturer, identity.model) if p)]
    for label, value in (
        ("serial", identity.serial),
        ("IMEI", identity.imei),
        ("UDID", identity.udid),
        ("name", identity.name),
    ):
        if value:
            parts.append(f"{label} {value}")
    if identity.os_version:
        parts.append(f"{'Android' if identity.platform == 'android' else 'iOS'} {identity.os_version}")
    return ", ".join(p for p in parts if p)


def devices_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List connected phones (Android over adb, paired iPhones and iPads) with their state and identity."""
    from safenet.evidence.model import EvidenceError

    rows: list[DeviceRow] = []
    problems: list[str] = []
    listers = _listers()
    for platform, lister in listers:
        try:
            rows.extend(lister())
        except EvidenceError as exc:
            problems.append(f"{platform}: {exc}")
    if problems and len(problems) == len(listers):
        fail(Exit.EVIDENCE, "; ".join(problems))
    for problem in problems:
        err.print(Text("safenet: note: ", style="yellow") + Text(display_safe(problem)))
    if as_json:
        out.print_json(json.dumps([asdict(row) for row in rows]))
        return
    if not rows:
        out.print("no phones connected")
        return
    for row in rows:
        advice = _ADVICE.get(row.state, "")
        detail = _who(row.identity) or (f"({advice})" if advice else "")
        out.print(Text(display_safe(f"{row.platform}  {row.ident}  {row.state}  {detail}".rstrip())))
