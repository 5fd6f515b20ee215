"""A phone as the adb server sees it: its state, properties, identity, MediaStore rows and sync connections.

Everything here reads: ``getprop``, ``settings get``, ``content query`` and (Android 9 and earlier only)
``service call iphonesubinfo 1`` are read-only commands of the phone's own shell, and the sync connections
only ever list, stat and receive. No evidence-derived text is ever put into a shell command line: file paths
travel only inside the sync protocol.

The adb server is found where adb itself looks (``ANDROID_ADB_SERVER_HOST``/``ANDROID_ADB_SERVER_PORT``,
default 127.0.0.1:5037) and is never started here: adbutils would start one (possibly its own bundled
binary) when none answers, and an examiner should know which adb, of which version, touched the phone.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from safenet.evidence.model import EvidenceError
from safenet.evidence.phone.adb_sync import SyncSession
from safenet.evidence.phone.devices import AUTHORISED, OFFLINE, UNAUTHORISED, UNKNOWN
from safenet.evidence.phone.identity import DeviceIdentity, Platform

if TYPE_CHECKING:
    from adbutils import AdbClient, AdbConnection  # type: ignore[import-untyped]

SOCKET_TIMEOUT: Final = 30.0  # seconds a phone may stay silent in the middle of a reply before it counts as gone
ADB_STATES: Final = {"device": AUTHORISED, "unauthorized": UNAUTHORISED, "offline": OFFLINE}
SHARED_PREFIXES: Final = ("/storage/emulated/0/", "/storage/self/primary/", "/sdcard/")
# Vendor properties some phones keep the IMEI in, readable without root (most phones have none of them).
IMEI_PROPS: Final = ("ro.ril.oem.imei", "persist.radio.imei", "ril.imei", "ro.ril.miui.imei0", "persist.sys.imei")
_PROP_LINE = re.compile(r"^\[([^\]]*)\]: \[(.*)\]$", re.MULTILINE)


def server_address() -> tuple[str, int]:
    host = os.environ.get("ANDROID_ADB_SERVER_HOST") or "127.0.0.1"
    try:
        port = int(os.environ.get("ANDROID_ADB_SERVER_PORT") or 5037)
    except ValueError as exc:
        raise EvidenceError("ANDROID_ADB_SERVER_PORT is not a port number; unset it or give the adb port") from exc
    return host, port


def client() -> AdbClient:
    """An adbutils client of the running adb server; EvidenceError in one sentence when none answers."""
    host, port = server_address()
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError as exc:
        raise EvidenceError(
            f"no adb server is answering on {host}:{port}: start it with `adb start-server` (Debian package adb), "
            "connect the phone, and run again"
        ) from exc
    from adbutils import AdbClient

    return AdbClient(host=host, port=port, socket_timeout=SOCKET_TIMEOUT)


def states(adb: AdbClient) -> dict[str, str]:
    """Every device the server knows, by serial, with the server's own state word."""
    from adbutils import AdbError

    try:
        return {info.serial: info.state for info in adb.list()}
    except (AdbError, OSError) as exc:
        raise EvidenceError(
            f"the adb server did not list its devices ({exc}); restart it with `adb kill-server`"
        ) from exc


def state_of(adb_state: str) -> str:
    """The server's state word as a ``DeviceRow`` state."""
    return ADB_STATES.get(adb_state, UNKNOWN)


def luhn_ok(digits: str) -> bool:
    """Whether a 15-digit string passes the Luhn check every IMEI passes."""
    if len(digits) != 15 or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def imei_from_parcel(text: str) -> str:
    """The IMEI in ``service call iphonesubinfo 1`` output (a UTF-16 string parcel), or "" when refused."""
    shown = "".join(re.findall(r"'([^']*)'", text))
    digits = "".join(ch for ch in shown if ch.isdigit())
    return digits if luhn_ok(digits) else ""


@dataclass(frozen=True, slots=True)
class MediaRow:
    """What MediaStore says of one file (``content://media/external/file``)."""

    path: str  # as Safenet names it: /sdcard/...
    owner: str = ""  # owner_package_name (Android 10+)
    added: datetime | None = None  # date_added
    taken: datetime | None = None  # datetaken
    trashed: bool = False  # is_trashed (Android 11+)


def _seconds(text: str, scale: int = 1) -> datetime | None:
    try:
        value = int(text) / scale
        return datetime.fromtimestamp(value, UTC) if value > 0 else None
    except (ValueError, OverflowError, OSError):
        return None


def shared_path(data: str) -> str | None:
    """A MediaStore ``_data`` path as Safenet's /sdcard/ path, or None when it is outside shared storage."""
    for prefix in SHARED_PREFIXES:
        if data.startswith(prefix):
            return "/sdcard/" + data[len(prefix) :]
    return None


def parse_rows(text: str, columns: tuple[str, ...]) -> list[MediaRow]:
    """``content query`` output (``Row: 0 col=value, col=value``) for a known projection order.

    Split by the known column names in order, not by commas: a file name may hold ", ".
    """
    pattern = re.compile(
        "".join(("" if i == 0 else ", ") + re.escape(c) + "=(.*?)" for i, c in enumerate(columns)) + "$", re.DOTALL
    )
    rows: list[MediaRow] = []
    for chunk in re.split(r"(?m)^Row: \d+ ", text)[1:]:
        match = pattern.match(chunk.removesuffix("\n"))
        if match is None:
            continue
        values = dict(zip(columns, match.groups(), strict=True))
        path = shared_path(values.get("_data", ""))
        if path is None:
            continue
        owner = values.get("owner_package_name", "NULL")
        rows.append(
            MediaRow(
                path=path,
                owner="" if owner == "NULL" else owner,
                added=_seconds(values.get("date_added", "")),
                taken=_seconds(values.get("datetaken", ""), 1000),
                trashed=values.get("is_trashed") == "1",
            )
        )
    return rows


class AdbPhone:
    """One phone by serial, through the server ``adb`` (an adbutils client)."""

    def __init__(self, serial: str, adb: AdbClient) -> None:
        self.serial, self.adb = serial, adb
        self._props: dict[str, str] | None = None
        self._features: set[str] | None = None

    def state(self) -> str | None:
        """The server's state word for this phone, or None when the server does not know it."""
        return states(self.adb).get(self.serial)

    def _transport(self) -> AdbConnection:
        """A connection to the server switched to this phone (``host:transport:SERIAL``)."""
        connection = self.adb.make_connection(timeout=SOCKET_TIMEOUT)
        try:
            connection.send_command(f"host:transport:{self.serial}")
            connection.check_okay()
        except BaseException:
            connection.close()
            raise
        return connection

    def shell(self, command: str) -> str:
        """The output of one command of the phone's shell (the v1 ``shell:`` service: output, then close).

        Read in chunks joined once: adbutils' own reader appends 4 KiB at a time to one bytes object, which is
        quadratic, and MediaStore's answer for a phone of 100 000 files is tens of megabytes.
        """
        connection = self._transport()
        sock = connection.conn
        try:
            connection.send_command(f"shell:{command}")
            connection.check_okay()
            chunks = []
            while chunk := sock.recv(1 << 16):
                chunks.append(chunk)
        finally:
            sock.close()
        return b"".join(chunks).decode("utf-8", "surrogateescape")

    def props(self) -> dict[str, str]:
        """All system properties, from one ``getprop``."""
        if self._props is None:
            self._props = dict(_PROP_LINE.findall(self.shell("getprop")))
        return self._props

    def features(self) -> set[str]:
        if self._features is None:
            from adbutils import AdbDevice

            self._features = set(AdbDevice(self.adb, serial=self.serial).get_features().split(","))
        return self._features

    def sdk(self) -> int:
        try:
            return int(self.props().get("ro.build.version.sdk", "0"))
        except ValueError:
            return 0

    def identity(self) -> DeviceIdentity:
        props = self.props()
        name = self.shell("settings get global device_name").strip()
        return DeviceIdentity(
            platform=Platform.ANDROID.value,
            manufacturer=props.get("ro.product.manufacturer", ""),
            model=props.get("ro.product.model", ""),
            serial=props.get("ro.serialno") or props.get("ro.boot.serialno", ""),
            imei=self.imei(),
            os_version=props.get("ro.build.version.release", ""),
            name="" if name in ("null", "") or "not found" in name else name,
        )

    def imei(self) -> str:
        """The IMEI where the phone gives it to the shell user without root, else "".

        A few vendors keep it in a readable property. Android 9 and earlier answer the phone service's
        getDeviceId (``service call iphonesubinfo 1``) to the shell user; Android 10 and later refuse it to
        anything but privileged apps, so for them it stays absent (never guessed).
        """
        props = self.props()
        for key in IMEI_PROPS:
            if luhn_ok(props.get(key, "")):
                return props[key]
        if 0 < self.sdk() < 29:
            return imei_from_parcel(self.shell("service call iphonesubinfo 1"))
        return ""

    def media_columns(self) -> tuple[str, ...]:
        sdk = self.sdk()
        if sdk >= 30:
            return ("_data", "owner_package_name", "date_added", "datetaken", "is_trashed")
        if sdk >= 29:
            return ("_data", "owner_package_name", "date_added", "datetaken")
        return ("_data", "date_added", "datetaken")

    def media_rows(self) -> tuple[list[MediaRow], str | None]:
        """MediaStore's files (trashed ones included where the provider honours ``includeTrashed``) and, when
        the query failed, the phone's error line."""
        columns = self.media_columns()
        uri = "content://media/external/file?includeTrashed=1&includePending=1"
        text = self.shell(f"content query --uri '{uri}' --projection {':'.join(columns)}")
        if "Row: " not in text and "No result found" not in text:
            return [], (text.strip().splitlines() or ["no output"])[0][:200]
        return parse_rows(text, columns), None

    def open_sync(self) -> SyncSession:
        """A new connection to the phone's sync service. AdbError or OSError when that fails."""
        features = self.features()
        connection = self._transport()
        try:
            connection.send_command("sync:")
            connection.check_okay()
        except BaseException:
            connection.close()
            raise
        return SyncSession(connection.conn, ls_v2="ls_v2" in features, stat_v2="stat_v2" in features)
