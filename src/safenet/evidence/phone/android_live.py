"""Live Android phones over ADB (``safenet triage android://SERIAL``): shared storage, read-only.

What is read: the folders of shared storage where pictures and videos live (``SHARED_FOLDERS``: the camera,
pictures, movies, downloads, documents, apps' media under ``Android/media`` including WhatsApp and Telegram,
their older top-level folders, and the ``.thumbnails`` / ``.thumbdata*`` caches inside DCIM), listed
recursively and read file by file with the adb sync service, straight into the pipeline (no copy is kept of a
file that does not match). MediaStore's rows add each file's owning app, dates and whether it is in the trash
(Android 11+); a trashed file is still a file in its folder (``.trashed-<time>-name``), so it is an item.

What is never done: nothing is written to the phone, nothing is installed on it, no root is asked for, no
evidence-derived text goes into a shell command. The phone's identity comes from its properties (see
``adb_device``).

A phone unplugged mid-run raises :class:`~safenet.evidence.model.SourceLost`: the engine keeps what was
recorded, stops with one ``device-disconnected`` warning, and ``safenet triage --resume`` continues once the
phone is back. A single file the phone refuses (permission, vanished) is that item's own read error.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, BinaryIO, ClassVar, Final, TypeVar

from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    OpenContext,
    SourceLost,
    TimeSource,
    Timestamp,
    WarningSink,
)
from safenet.evidence.phone.adb_device import AdbPhone, MediaRow, client, state_of, states
from safenet.evidence.phone.adb_sync import Entry, LinkBroken, ListingCut, RecvReader, SyncSession
from safenet.evidence.phone.devices import AUTHORISED, OFFLINE, UNAUTHORISED, UNKNOWN, DeviceRow
from safenet.evidence.phone.identity import Acquisition, AcquisitionRecord, DeviceIdentity, device_layer, to_details

if TYPE_CHECKING:
    from adbutils import AdbClient  # type: ignore[import-untyped]

DISCONNECT_CODE: Final = "device-disconnected"
MEDIASTORE_CODE: Final = "mediastore-unreadable"
UNREADABLE_CODE: Final = "unreadable"
MAX_DEPTH: Final = 64  # folders deeper than this are not entered (a guard against a phone that nests without end)
ROOT: Final = "/sdcard"
SHARED_FOLDERS: Final = (
    "DCIM",  # camera originals, and DCIM/.thumbnails with its .thumbdata* caches
    "Pictures",
    "Movies",
    "Download",
    "Documents",
    "Android/media",  # apps' shared media: com.whatsapp/WhatsApp/Media, org.telegram.messenger/... (Android 11+)
    "WhatsApp",  # WhatsApp's media before Android 11
    "Telegram",  # Telegram's media before Android 11
)
DRAIN_BYTES: Final = 256 * 1024  # a file closed early with less than this left is drained to keep its connection
RECHECKS: Final = 5  # after a broken read, how often the server is asked whether the phone is still there
RECHECK_SECONDS: Final = 0.2

T = TypeVar("T")


def open_device(serial: str, context: OpenContext) -> AndroidLiveEvidence:
    """The registry's opener for ``android://SERIAL`` (no credentials: a phone authorises this computer itself)."""
    del context
    return AndroidLiveEvidence(serial)


def list_android_devices() -> list[DeviceRow]:
    """Every phone the adb server knows, with its state, and its identity when it has authorised this computer."""
    from adbutils import AdbError

    adb = client()
    rows = []
    for serial, adb_state in sorted(states(adb).items()):
        state = state_of(adb_state)
        identity = None
        if state == AUTHORISED:
            try:
                identity = AdbPhone(serial, adb).identity()
            except (AdbError, OSError):  # it went away (or stopped answering) between the list and the question
                state = UNKNOWN
        rows.append(DeviceRow("android", serial, state, identity))
    return rows


def not_ready(serial: str, adb_state: str | None) -> EvidenceError | None:
    """The one sentence for a phone that cannot be read, or None when it can."""
    if adb_state is None:
        return EvidenceError(
            f"the adb server sees no phone with serial {serial}: check the cable (or `adb connect` for a phone on "
            "the network) and the serial, which `safenet devices` lists"
        )
    state = state_of(adb_state)
    if state == UNAUTHORISED:
        return EvidenceError(
            f"the phone {serial} has not authorised this computer: unlock it and accept the USB debugging prompt, "
            "then run again"
        )
    if state == OFFLINE:
        return EvidenceError(
            f"the phone {serial} is offline (connected, not answering): unplug and reconnect it, or restart the "
            "adb server with `adb kill-server`, then run again"
        )
    if adb_state in ("authorizing", "connecting"):  # newer servers, for a few seconds after plugging in
        return EvidenceError(
            f"the phone {serial} is still connecting ({adb_state}): wait a few seconds, accept the USB debugging "
            "prompt if the phone shows one, then run again"
        )
    if state != AUTHORISED:
        return EvidenceError(
            f"the phone {serial} is in the {adb_state!r} state (recovery, bootloader or sideload), not started "
            "normally; restart it into Android and run again"
        )
    return None


def _ts(seconds: int | None) -> Timestamp | None:
    if not seconds or seconds < 0:
        return None
    try:
        return Timestamp(datetime.fromtimestamp(seconds, UTC), TimeSource.FS_STAT, 1.0)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def note_for(name: str, row: MediaRow | None) -> str | None:
    """The item note from MediaStore (or, without a row, from the trash's file naming), else None."""
    parts: list[str] = []
    if row is not None and row.trashed:
        parts.append("trashed on the device (MediaStore is_trashed)")
    elif name.startswith(".trashed-"):
        parts.append("trashed on the device (file name .trashed-…)")
    elif name.startswith(".pending-"):
        parts.append("pending on the device, not yet published (file name .pending-…)")
    if row is not None:
        if row.owner:
            parts.append(f"owner app {display_safe(row.owner)}")
        if row.added is not None:
            parts.append(f"MediaStore added {_iso(row.added)}")
        if row.taken is not None:
            parts.append(f"taken {_iso(row.taken)}")
    return "; ".join(parts) or None


class AndroidLiveEvidence:
    """A phone's shared storage through the adb server (see the module docstring)."""

    NAME: ClassVar[str] = "android-adb"
    #: The listing reads on a sync connection of its own (from the pool, under its lock) and keeps no state
    #: that reading uses: files are read while the folders are still being listed (``engine.listing``), so
    #: the listing's round trips (one per folder) overlap the transfer (measured: 0.1 s of a 5 000-file run).
    LISTS_WHILE_READ: ClassVar[bool] = True

    def __init__(self, serial: str) -> None:
        if not serial or any(ch in serial for ch in "\0\n\r"):
            raise EvidenceError(f"{serial!r} is not a phone serial; `safenet devices` lists the connected phones")
        self.serial = serial
        self.adb: AdbClient = client()
        problem = not_ready(serial, states(self.adb).get(serial))
        if problem is not None:
            raise problem
        self.phone = AdbPhone(serial, self.adb)
        self.locator = Locator.source(f"android://{serial}")
        self._identity: DeviceIdentity | None = None
        self._idle: list[SyncSession] = []
        self._lock = threading.Lock()

    # --- who the phone is ----------------------------------------------------------------------------

    def identity(self) -> DeviceIdentity:
        if self._identity is None:
            self._identity = self._guard(self.phone.identity)
        return self._identity

    def device_layer(self) -> Layer:
        return device_layer(self.identity().label(), Acquisition.ADB_LOGICAL)

    def describe(self) -> EvidenceDescription:
        import adbutils

        identity = self.identity()
        server = self._guard(self.adb.server_version)
        record = AcquisitionRecord(
            Acquisition.ADB_LOGICAL,
            tool=f"adbutils {adbutils.__version__}; adb server 1.0.{server}",
            note="shared storage read with the adb sync service; nothing written to or installed on the phone",
        )
        details = to_details(identity, record)
        details["adb.serial"] = self.serial
        details["adb.storage"] = f"{ROOT}: {', '.join(SHARED_FOLDERS)}"
        return EvidenceDescription(
            backend=self.NAME,
            source=f"android://{self.serial}",
            summary=f"Android phone {display_safe(identity.label())} over ADB (shared storage, read-only)",
            details=details,
        )

    # --- listing ---------------------------------------------------------------------------------------

    def items(self, warn: WarningSink) -> Iterator[Item]:
        base = self.locator.child(self.device_layer())
        rows, error = self._guard(self.phone.media_rows)
        if error is not None:
            message = f"MediaStore could not be queried ({display_safe(error)}); items carry no app or trash notes"
            warn(EvidenceWarning(MEDIASTORE_CODE, message, base))
        by_path = {row.path: row for row in rows}
        current = [self._session()]  # the listing's connection; a listing cut short replaces it (see _walk)
        try:
            for folder in SHARED_FOLDERS:
                yield from self._walk(current, f"{ROOT}/{folder}", base, by_path, warn)
        except (LinkBroken, OSError) as exc:
            current[0].close()
            raise self._lost_or_failed(exc) from exc
        except BaseException:  # the caller stopped early (closed at its first hit) or anything else: not leaked
            current[0].close()
            raise
        self._give_back(current[0])

    def _walk(
        self, current: list[SyncSession], top: str, base: Locator, rows: dict[str, MediaRow], warn: WarningSink
    ) -> Generator[Item, None, None]:
        """The files under ``top``, folder by folder in name order, listed on ``current[0]``: a listing cut short
        leaves its connection unusable, so another is opened in its place."""
        stack = [(top, 0)]
        while stack:
            folder, depth = stack.pop()
            try:
                listed = current[0].list(folder)
            except ListingCut as cut:  # what was listed is examined; the rest of the folder is not
                listed = cut.entries
                warn(EvidenceWarning(UNREADABLE_CODE, f"{cut}: listing stopped there", self._loc(base, folder)))
                current[0].close()
                current[0] = self._session()
            subfolders = []
            for entry in sorted(listed, key=lambda e: e.name):
                path = f"{folder}/{entry.name}"
                if entry.is_dir:
                    if depth + 1 < MAX_DEPTH:
                        subfolders.append((path, depth + 1))
                    else:
                        warn(
                            EvidenceWarning(
                                UNREADABLE_CODE, "folders nested too deep: not entered", self._loc(base, path)
                            )
                        )
                elif entry.is_file:
                    yield self._item(base, path, entry, rows.get(path))
                else:
                    warn(
                        EvidenceWarning(
                            "special-file",
                            "not a regular file or folder on the phone (a link or device node); not followed",
                            self._loc(base, path),
                        )
                    )
            stack.extend(reversed(subfolders))

    @staticmethod
    def _loc(base: Locator, path: str) -> Locator:
        return base.child(Layer(LayerKind.PATH, path))

    def _item(self, base: Locator, path: str, entry: Entry, row: MediaRow | None) -> Item:
        return Item(
            locator=self._loc(base, path),
            name=entry.name,
            size=entry.size,
            modified=_ts(entry.mtime),
            accessed=_ts(entry.atime),
            changed=_ts(entry.ctime),
            note=note_for(entry.name, row),
        )

    # --- reading ---------------------------------------------------------------------------------------

    def open(self, locator: Locator) -> BinaryIO:
        layers = locator.layers
        if len(layers) != 3 or layers[0] != self.locator.layers[0]:
            raise EvidenceError(f"{locator} is not a file on the phone {self.serial}")
        device, leaf = layers[1], layers[2]
        path = leaf.value
        if (
            device.kind is not LayerKind.DEVICE
            or leaf.kind is not LayerKind.PATH
            or not path.startswith(ROOT + "/")
            or any(part in ("", ".", "..") for part in path[len(ROOT) + 1 :].split("/"))
        ):
            raise EvidenceError(f"{locator} is not a path in the phone's shared storage")
        session = self._session()
        try:
            reader = session.recv(path)
            reader.prime()
        except LinkBroken as exc:
            session.close()
            raise self._lost_or_error(exc) from exc
        except OSError:  # the phone refused this one file (gone, no permission) and ended that connection
            session.close()
            raise
        reader.on_close = self._closed
        return _Reader(reader, self)

    def _closed(self, reader: RecvReader) -> None:
        session = reader.session
        if session.broken:
            session.close()
            return
        try:
            finished = reader.finished or reader.drain(DRAIN_BYTES)
        except (LinkBroken, OSError):
            finished = False
        if finished and not session.broken:
            self._give_back(session)
        else:  # the rest of a large file is still on its way: this connection cannot serve another request
            session.close()

    # --- connections and a phone that went away ----------------------------------------------------------

    def _session(self) -> SyncSession:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self.phone.open_sync()
        except Exception as exc:  # adbutils raises AdbError (an Exception) or OSError
            raise self._lost_or_error(exc) from exc

    def _give_back(self, session: SyncSession) -> None:
        with self._lock:
            self._idle.append(session)

    def _guard(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except EvidenceError:
            raise
        except Exception as exc:  # the shell or the server failed: was it the phone leaving?
            raise self._lost_or_failed(exc) from exc

    def _lost_or_error(self, exc: BaseException) -> EvidenceError | OSError:
        """SourceLost when the phone is no longer there (asked a few times: the server may notice late), else
        the failure as this one file's OSError."""
        for attempt in range(RECHECKS):
            try:
                adb_state = states(self.adb).get(self.serial)
            except EvidenceError:
                adb_state = None  # the server itself went away: the phone cannot be read either
            if adb_state != "device":
                return SourceLost(
                    f"the phone {self.serial} was disconnected during the run; reconnect and unlock it, then run "
                    "`safenet triage --resume` with the same --case and --exhibit to examine the rest",
                    DISCONNECT_CODE,
                )
            if attempt + 1 < RECHECKS:
                time.sleep(RECHECK_SECONDS)
        if isinstance(exc, OSError):
            return exc
        return OSError(f"the phone did not answer as expected: {exc}")

    def _lost_or_failed(self, exc: BaseException) -> EvidenceError:
        """For a failure that concerns the whole phone (its identity, its listing), not one file."""
        found = self._lost_or_error(exc)
        if isinstance(found, EvidenceError):
            return found
        return EvidenceError(
            f"the phone {self.serial} did not answer as expected ({display_safe(str(exc))}); unplug and reconnect "
            "it, then run again (with --resume if a run had started)"
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            session.quit()


class _Reader(io.BufferedReader):
    """A buffered stream of one file whose failures say whether the phone went away."""

    def __init__(self, raw: RecvReader, owner: AndroidLiveEvidence) -> None:
        super().__init__(raw, buffer_size=256 * 1024)
        self._owner = owner

    def read(self, size: int | None = -1, /) -> bytes:
        try:
            return super().read(size)
        except LinkBroken as exc:
            raise self._owner._lost_or_error(exc) from exc

    def readinto(self, buffer: memoryview | bytearray, /) -> int:  # type: ignore[override]
        try:
            return super().readinto(buffer)
        except LinkBroken as exc:
            raise self._owner._lost_or_error(exc) from exc
