"""iTunes/Finder backups of an iPhone or iPad: a folder with ``Manifest.db``, ``Info.plist`` and ``Manifest.plist``.

Every file record of Manifest.db (table Files, flags 1) is an item addressed ``SOURCE › DEVICE › PATH``, the PATH
being ``Domain/relativePath`` as the phone named it (data, never a path on this machine: the bytes are read only
from ``<fileID[:2]>/<fileID>``, the fileID checked to be 40 hex digits; the PATH layer's detail carries it). Size
and times come from the record's NSKeyedArchiver ``MBFile`` plist. Who the phone is comes from Info.plist.

Encrypted backups (Manifest.plist ``IsEncrypted``) are opened with the examiner's password: the keybag in
Manifest.plist is unlocked with ``iphone_backup_decrypt`` (its class keys are wrapped under a key derived from
the password), Manifest.db is decrypted into memory, and each file is decrypted as it is read
(``phone.cbc``): no plaintext is written to disk. Camera-roll files hidden or recently deleted in Photos get a
note from ``Photos.sqlite`` (``phone.photos_db``).
"""

from __future__ import annotations

import io
import os
import plistlib
import re
import sqlite3
import stat
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from urllib.parse import quote

from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from safenet.evidence.directory import open_readonly
from safenet.evidence.locator import Layer, LayerKind, Locator, display_safe
from safenet.evidence.model import (
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    NotMyFormat,
    OpenContext,
    TimeSource,
    Timestamp,
    WarningSink,
)
from safenet.evidence.phone.cbc import CbcReader, DecryptError, open_decrypted
from safenet.evidence.phone.identity import (
    Acquisition,
    AcquisitionRecord,
    DeviceIdentity,
    Platform,
    device_layer,
    to_details,
)
from safenet.evidence.phone.mbfile import FileRecord, parse_record
from safenet.evidence.phone.photos_db import PhotosDbError, notes_with_log, photos_notes

MARKERS = ("Manifest.db", "Info.plist", "Manifest.plist")
MAX_PLIST = 64 << 20  # Info.plist and Manifest.plist list the apps (icons, settings): tens of MiB at most
MAX_PHOTOS_DB = 256 << 20  # Photos.sqlite is read into memory up to this size
PHOTOS_DB = ("CameraRollDomain", "Media/PhotoData/Photos.sqlite")
_FILE_ID = re.compile(r"[0-9a-f]{40}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LISTED = 50_000  # records of recently listed encrypted files kept for open() (a few MiB)
_BATCH = 2000  # manifest rows fetched at a time (the connection is shared with open() under a lock)
_ROWS = (
    "SELECT rowid, fileID, domain, relativePath, file FROM Files WHERE flags = 1 AND rowid > ? ORDER BY rowid LIMIT ?"
)

CORRUPT_CODE = "ios-manifest-corrupt"
RECORD_CODE = "ios-record-invalid"
MISSING_CODE = "ios-file-missing"
PATH_CODE = "ios-path-unusual"
PHOTOS_CODE = "ios-photos-db-unreadable"


def _text(value: object) -> str:
    """A Manifest text column as text; bytes (hostile) kept with surrogate escapes."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return "" if value is None else str(value)


def _record_or_none(blob: object) -> FileRecord | None:
    """The record of a Manifest row, or None when it has none or a bad one (listing warned about it already;
    when opening it only means no key and no size)."""
    try:
        return parse_record(blob) if isinstance(blob, bytes) else None
    except ValueError:
        return None


def _ts(value: datetime | None) -> Timestamp | None:
    return Timestamp(value, TimeSource.FS_METADATA, 1.0) if value is not None else None


def unusual_path(relative: str) -> str | None:
    """Why a relativePath would be dangerous as a path on this machine (it is never used as one), or None."""
    if relative.startswith("/"):
        return "absolute path"
    if ".." in relative.split("/"):
        return "'..' component"
    if _CONTROL.search(relative):
        return "control characters"
    return None


def identity_from_info(info: dict[str, Any]) -> DeviceIdentity:
    def get(key: str) -> str:
        value = info.get(key)
        return value.strip() if isinstance(value, str) else ""

    return DeviceIdentity(
        platform=Platform.IOS.value,
        manufacturer="Apple",
        model=get("Product Type"),
        serial=get("Serial Number"),
        imei=get("IMEI"),
        udid=get("Unique Identifier") or get("Target Identifier"),
        os_version=get("Product Version"),
        name=get("Device Name"),
    )


def load_plist(path: Path) -> dict[str, Any]:
    """A backup's property list (a dictionary, at most MAX_PLIST bytes); ValueError or OSError otherwise."""
    with open_readonly(path) as stream:
        data = stream.read(MAX_PLIST + 1)
    if len(data) > MAX_PLIST:
        raise ValueError(f"{path.name} is larger than {MAX_PLIST} bytes")
    try:
        value = plistlib.loads(data)
    except Exception as exc:  # plistlib raises several kinds on damaged input
        raise ValueError(f"{path.name} is not a property list ({type(exc).__name__})") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} is not a dictionary")
    return value


class WrongPassword(EvidenceError):
    """The password given does not unlock the backup's keybag (a user error, said in one sentence)."""


class _Keys:
    """The class keys an unlocked keybag gave: unwraps each file's key (RFC 3394, OpenSSL's implementation, as
    a phone holds hundreds of thousands of files and pycryptodome's key unwrap is written in Python)."""

    def __init__(self, class_keys: dict[int, bytes]) -> None:
        self._class_keys = class_keys

    def file_key(self, protection_class: int | None, wrapped: bytes | None) -> bytes:
        if protection_class is None or wrapped is None or len(wrapped) < 4:
            raise DecryptError("the file record holds no encryption key")
        class_key = self._class_keys.get(protection_class)
        if class_key is None:
            raise DecryptError(f"the keybag holds no key of protection class {protection_class}")
        try:
            return aes_key_unwrap(class_key, wrapped[4:])
        except (InvalidUnwrap, ValueError) as exc:
            raise DecryptError("the file key cannot be unwrapped (a damaged record)") from exc


class IosBackupEvidence:
    NAME: ClassVar[str] = "ios-backup"
    #: Listed whole before the first read, although listing while reading would be safe (the Manifest queries
    #: and the window of listed records are taken under the lock opening takes; a test runs both ways): the
    #: listing is Python work that competes with recording for the interpreter, and the run was measured
    #: slower streamed (20 000 files: 0.25-0.4 s more wall time, 0.4-0.6 s more CPU).
    LISTS_WHILE_READ: ClassVar[bool] = False

    def __init__(self, root: Path, context: OpenContext | None = None, device: Locator | None = None) -> None:
        """``device``: the SOURCE › DEVICE locator to list items under instead of the folder's (a backup Safenet
        took of a live phone names the phone and that acquisition)."""
        if not root.is_dir() or root.is_symlink() or not all((root / m).is_file() for m in MARKERS):
            raise NotMyFormat(f"{root} is not an iTunes backup folder")
        self.root = root.resolve()
        self._root = str(self.root)
        self.locator = Locator(device.layers[:1]) if device is not None else Locator.source(str(self.root))
        self._lock = threading.Lock()
        self._problems: list[str] = []
        self._listed: OrderedDict[str, FileRecord] = OrderedDict()  # encrypted: recently listed records
        try:
            manifest = load_plist(self.root / "Manifest.plist")
        except (OSError, ValueError) as exc:
            raise EvidenceError(f"the iTunes backup at {self.root} cannot be read: {exc}") from exc
        try:
            self.info = load_plist(self.root / "Info.plist")
        except (OSError, ValueError) as exc:
            self.info = {}
            self._problems.append(f"Info.plist unreadable ({exc}): the device's identity is unknown")
        self.identity = identity_from_info(self.info)
        self.encrypted = bool(manifest.get("IsEncrypted"))
        self._keys: _Keys | None = None
        if self.encrypted:
            self._keys = self._unlock(manifest, context or OpenContext())
        self._device = device or self.locator.child(device_layer(self.identity.label(), Acquisition.ITUNES_BACKUP))
        self._db = self._open_manifest(manifest)

    # --- opening --------------------------------------------------------------------------------------------

    def _unlock(self, manifest: dict[str, Any], context: OpenContext) -> _Keys:
        from iphone_backup_decrypt.utils import BackupKeyBag  # type: ignore[import-untyped]

        password = next(iter(context.passwords()), None)
        if password is None:
            raise EvidenceError(
                f"the iTunes backup at {self.root} is encrypted; give its backup password with --password"
            )
        try:
            keybag = BackupKeyBag(manifest["BackupKeyBag"])
            unlocked = keybag.unlock_with_passphrase(password.encode("utf-8"))
        except (KeyError, TypeError, ValueError, struct.error) as exc:
            raise EvidenceError(
                f"the keybag of the encrypted iTunes backup at {self.root} is damaged ({type(exc).__name__})"
            ) from exc
        if not unlocked:
            raise WrongPassword(
                f"the password given for the encrypted iTunes backup at {self.root} is wrong; give the backup "
                "password set in iTunes or Finder (not the phone's passcode) with --password"
            )
        return _Keys({int(k): bytes(v) for k, v in keybag.classes_keys.items()})

    def _open_manifest(self, manifest: dict[str, Any]) -> sqlite3.Connection:
        path = self.root / "Manifest.db"
        try:
            if self._keys is not None and isinstance(manifest.get("ManifestKey"), bytes):
                conn = sqlite3.connect(":memory:", check_same_thread=False)
                conn.deserialize(self._decrypt_manifest(self._keys, manifest["ManifestKey"]))
            else:  # immutable: SQLite writes nothing beside it and takes no lock
                uri = f"file:{quote(str(path))}?mode=ro&immutable=1"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA trusted_schema = OFF")
            kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Files'").fetchone()
            if kind is None or kind[0] != "table":
                raise sqlite3.DatabaseError("no Files table")
            conn.execute("SELECT rowid, fileID, domain, relativePath, flags, file FROM Files LIMIT 1").fetchall()
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise EvidenceError(
                f"the Manifest.db of the iTunes backup at {self.root} cannot be opened ({exc})"
            ) from exc
        return conn

    def _decrypt_manifest(self, keys: _Keys, manifest_key: bytes) -> bytes:
        if len(manifest_key) < 4:
            raise ValueError("ManifestKey too short")
        key = keys.file_key(struct.unpack("<l", manifest_key[:4])[0], manifest_key)
        with CbcReader(open_readonly(self.root / "Manifest.db"), key) as reader:
            return reader.read()

    # --- the Evidence protocol -------------------------------------------------------------------------------

    def describe(self) -> EvidenceDescription:
        itunes = self.info.get("iTunes Version")
        tool = f"iTunes {itunes}" if isinstance(itunes, str) and itunes else ""
        note = "backup encrypted; decrypted with the examiner's password" if self.encrypted else "backup not encrypted"
        details = to_details(self.identity, AcquisitionRecord(Acquisition.ITUNES_BACKUP, tool, note))
        when = self.info.get("Last Backup Date")
        if isinstance(when, datetime):
            details["backup.date"] = (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()
        details["backup.encrypted"] = "yes" if self.encrypted else "no"
        kind = "encrypted iTunes backup" if self.encrypted else "iTunes backup"
        summary = f"{kind} of {display_safe(self.identity.label())} at {display_safe(str(self.root))}"
        return EvidenceDescription(self.NAME, str(self.root), summary, details)

    def items(self, warn: WarningSink) -> Iterator[Item]:
        for problem in self._problems:
            warn(EvidenceWarning(CORRUPT_CODE, problem, self._file_loc("Info.plist")))
        notes = self._photos_notes(warn)
        for _, file_id, domain, relative, blob in self._rows(warn):
            item = self._item(file_id, _text(domain), _text(relative), blob, notes, warn)
            if item is not None:
                yield item

    def _rows(self, warn: WarningSink) -> Iterator[tuple[Any, ...]]:
        """The file records in rowid order, a batch at a time; past damage, the rows before it and a warning."""
        last = -(1 << 63)
        while True:
            try:
                with self._lock:
                    rows = self._db.execute(_ROWS, (last, _BATCH)).fetchall()
            except sqlite3.Error as exc:
                yield from self._salvage(last)
                message = f"Manifest.db is damaged ({exc}): the file records after this point were not listed"
                warn(EvidenceWarning(CORRUPT_CODE, message, self._file_loc("Manifest.db")))
                return
            if not rows:
                return
            last = rows[-1][0]
            yield from rows

    def _salvage(self, last: int) -> list[tuple[Any, ...]]:
        """The rows of a batch that stopped at damage, one at a time up to the damage."""
        out: list[tuple[Any, ...]] = []
        with self._lock:
            try:
                cursor = self._db.execute(_ROWS, (last, _BATCH))
                while (row := cursor.fetchone()) is not None:
                    out.append(row)
            except sqlite3.Error:
                pass  # the caller records the damage
        return out

    def _item(
        self, file_id: object, domain: str, relative: str, blob: object, notes: dict[str, str], warn: WarningSink
    ) -> Item | None:
        path = f"{domain}/{relative}"
        if not isinstance(file_id, str) or _FILE_ID.fullmatch(file_id) is None:
            loc = self._path_loc(domain, relative, None)
            shown = display_safe(_text(file_id))[:60]
            warn(EvidenceWarning(RECORD_CODE, f"file record with an invalid fileID ({shown}); not read", loc))
            return None
        # Warnings name the file without its inode (the record may be what is wrong); the item, with it.
        why = unusual_path(relative)
        if why is not None:
            message = f"relativePath with {why}: kept as the phone's name for the file, read only by its fileID"
            warn(EvidenceWarning(PATH_CODE, message, self._path_loc(domain, relative, file_id)))
        record: FileRecord | None = None
        if not isinstance(blob, bytes):
            message = "file record without its metadata (no MBFile plist)"
            warn(EvidenceWarning(RECORD_CODE, message, self._path_loc(domain, relative, file_id)))
        else:
            try:
                record = parse_record(blob)
            except ValueError as exc:
                message = f"file record metadata unreadable: {exc}"
                warn(EvidenceWarning(RECORD_CODE, message, self._path_loc(domain, relative, file_id)))
        if record is None and self.encrypted:
            return None  # no key to decrypt it with: the warning says why
        if self.encrypted and record is not None:
            with self._lock:  # the engine opens what was just listed: keep its key at hand, a window of them
                self._listed[file_id] = record
                if len(self._listed) > _LISTED:
                    self._listed.popitem(last=False)
        if not self._has_data(file_id) and not (record is not None and record.size == 0):
            message = f"the backup holds no data file {file_id[:2]}/{file_id}"
            warn(EvidenceWarning(MISSING_CODE, message, self._path_loc(domain, relative, file_id)))
            return None
        note = notes.get(relative[len("Media/") :]) if domain == "CameraRollDomain" and notes else None
        if record is None:
            return Item(self._path_loc(domain, relative, file_id), relative.rsplit("/", 1)[-1], None, note=note)
        return Item(
            locator=self._device.child(Layer(LayerKind.PATH, path, record.inode, detail=file_id)),
            name=relative.rsplit("/", 1)[-1],
            size=record.size,
            modified=_ts(record.modified),
            changed=_ts(record.changed),
            created=_ts(record.created),
            note=note,
        )

    def _file_row(self, domain: str, relative: str) -> Any:
        """The (fileID, file) row of the file ``domain/relative``, or None: not listed, or the Manifest is damaged
        (the listing meets the same damage and says so)."""
        with self._lock:
            try:
                return self._db.execute(
                    "SELECT fileID, file FROM Files WHERE domain = ? AND relativePath = ? AND flags = 1 LIMIT 1",
                    (domain, relative),
                ).fetchone()
            except sqlite3.Error:
                return None

    def _photos_notes(self, warn: WarningSink) -> dict[str, str]:
        row = self._file_row(*PHOTOS_DB)
        if row is None:
            return {}
        loc = self._path_loc(*PHOTOS_DB, row[0] if isinstance(row[0], str) else None)
        try:
            data = self._read_whole(row)
            log = self._photos_log()
            if not log:
                return photos_notes(data)
            notes, problem = notes_with_log(data, log)  # a phone in use keeps the latest changes in the log
            if problem is not None:
                message = (
                    f"Photos.sqlite's write-ahead log was not applied ({problem}): the latest changes may be missing"
                )
                warn(EvidenceWarning(PHOTOS_CODE, message, loc))
            return notes
        except (OSError, EvidenceError, PhotosDbError) as exc:
            message = f"Photos.sqlite unreadable ({exc}): hidden and recently deleted pictures are not flagged"
            warn(EvidenceWarning(PHOTOS_CODE, message, loc))
            return {}

    def _read_whole(self, row: Any) -> bytes:
        with self._open_file(_text(row[0]), _record_or_none(row[1])) as stream:
            data = stream.read(MAX_PHOTOS_DB + 1)
        if len(data) > MAX_PHOTOS_DB:
            raise PhotosDbError(f"larger than {MAX_PHOTOS_DB >> 20} MiB: not read for hidden/deleted flags")
        return bytes(data)

    def _photos_log(self) -> bytes:
        """The backed-up ``Photos.sqlite-wal``, or b"" when the backup holds none."""
        row = self._file_row(PHOTOS_DB[0], f"{PHOTOS_DB[1]}-wal")
        return self._read_whole(row) if row is not None else b""

    def open(self, locator: Locator) -> BinaryIO:
        layers = locator.layers
        if len(layers) < 3 or layers[0] != self.locator.layers[0] or layers[1].kind is not LayerKind.DEVICE:
            raise EvidenceError(f"{locator} is not in the iTunes backup at {self.root}")
        leaf = layers[2]
        if leaf.kind is not LayerKind.PATH:
            raise EvidenceError(f"{locator} is not a file of the iTunes backup at {self.root}")
        if self._keys is None and leaf.detail is not None and _FILE_ID.fullmatch(leaf.detail):
            try:  # a plain backup's file is its fileID's data file: no need to ask the Manifest
                return self._open_data(leaf.detail)
            except FileNotFoundError:
                pass  # an empty file may have no data file: its record says so
        if self._keys is not None and leaf.detail is not None:
            with self._lock:
                listed = self._listed.get(leaf.detail)
            if listed is not None:  # listed moments ago: its key is at hand
                return self._open_file(leaf.detail, listed)
        with self._lock:
            if leaf.detail is None:  # named by path alone (a sibling): the record with that Domain/relativePath
                query = "SELECT fileID, file FROM Files WHERE domain || '/' || relativePath = ? AND flags = 1"
                row = self._db.execute(query, (leaf.value,)).fetchone()
            else:
                row = self._db.execute("SELECT fileID, file FROM Files WHERE fileID = ?", (leaf.detail,)).fetchone()
        if row is None:
            raise FileNotFoundError(f"no file record for {locator} in the backup's Manifest.db")
        return self._open_file(_text(row[0]), _record_or_none(row[1]))

    # --- files -----------------------------------------------------------------------------------------------

    def _data_path(self, file_id: str) -> str:
        return f"{self._root}/{file_id[:2]}/{file_id}"  # file_id: 40 hex digits, checked before

    def _has_data(self, file_id: str) -> bool:
        """Whether the backup holds the file's data file (a regular file, links followed as open() does)."""
        try:
            return stat.S_ISREG(os.stat(self._data_path(file_id)).st_mode)
        except (OSError, ValueError):
            return False

    def _open_data(self, file_id: str) -> BinaryIO:
        stream = open_readonly(self._data_path(file_id))
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            stream.close()
            raise EvidenceError(f"{file_id[:2]}/{file_id} in the backup is not a regular file")
        return stream

    def _open_file(self, file_id: str, record: FileRecord | None) -> BinaryIO:
        if _FILE_ID.fullmatch(file_id) is None:
            raise EvidenceError(f"invalid fileID {display_safe(file_id)[:60]} in the backup's Manifest.db")
        try:
            stream = self._open_data(file_id)
        except FileNotFoundError:
            if record is not None and record.size == 0:
                return io.BytesIO(b"")  # an empty file: backups may store no data file for it
            raise
        if self._keys is None:
            return stream
        if record is not None and record.size == 0 and record.wrapped_key is None:
            stream.close()  # an empty file has no key and nothing to decrypt
            return io.BytesIO(b"")
        try:
            if record is None:
                raise DecryptError("the file record holds no encryption key")
            key = self._keys.file_key(record.protection_class, record.wrapped_key)
        except BaseException:
            stream.close()
            raise
        return open_decrypted(stream, key)

    def _path_loc(self, domain: str, relative: str, file_id: str | None) -> Locator:
        return self._device.child(Layer(LayerKind.PATH, f"{domain}/{relative}", detail=file_id))

    def _file_loc(self, name: str) -> Locator:
        return self.locator.child(Layer(LayerKind.PATH, "/" + name))
