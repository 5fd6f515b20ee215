"""A full local backup of a live, paired iPhone or iPad, taken into the case and read (``ios://UDID --ios-backup``).

Why a backup: AFC reaches only the media domain; a backup holds every domain the phone backs up (app data,
messages' attachments, settings). An encrypted backup holds more of them (the keychain, Health, Wi-Fi), so the
backup is always taken encrypted:

- a phone that already encrypts its backups (lockdown's ``com.apple.mobile.backup`` ``WillEncrypt``) is backed
  up with the password its owner set, which the examiner gives with ``--password`` (never recorded, as every
  credential given to Safenet);
- a phone that does not is given a one-time random password (``ChangePassword`` over mobilebackup2), backed up,
  and has the password removed again in a ``finally``. That password is a change Safenet made to the exhibit,
  not a credential: it is written to the acquisition record (``acquisition.json`` beside the backup, in the
  case, owner-only) before the phone is asked to set it, and the change and its removal are audit events, so
  that an examiner can undo it after a crash. A removal that fails (the phone refused it, or went away) ends
  the run's listing with an ``ios-backup-password-left`` warning naming where the password is recorded; the
  next ``--resume`` with the phone attached removes it once the backup is taken.

The backup is taken by pymobiledevice3's own client (``Mobilebackup2Service.backup``: DeviceLink, the sync lock
over AFC, the notification proxy, the installation proxy) into ``<case>/acquisitions/<exhibit>/ios-backup/`` and
read by the iTunes backup back-end (``phone.ios_backup``), decrypting with the password it was taken with. Items
are named ``ios://UDID › DEVICE (label, detail "ios-backup") › Domain/relativePath``; the exhibit's description
records the tools (pymobiledevice3's version, the mobilebackup2 protocol). ``--resume`` reads a finished stored
backup again instead of taking a new one; an unfinished one is taken again. A phone lost during the backup
raises :class:`~safenet.evidence.phone.afc.DeviceLost` (the run stops, resumable).

The device is contacted only by ``describe`` and ``items`` in the process that runs the triage; the worker
processes that open items read the stored backup alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import json
import os
import secrets
import shutil
import weakref
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Final, TypeVar

from safenet.evidence.locator import Locator, display_safe
from safenet.evidence.model import (
    Acquire,
    Credential,
    CredentialKind,
    EvidenceDescription,
    EvidenceError,
    EvidenceWarning,
    Item,
    OpenContext,
    WarningSink,
)
from safenet.evidence.phone import afc
from safenet.evidence.phone.identity import (
    Acquisition,
    AcquisitionRecord,
    DeviceIdentity,
    device_locator,
    to_details,
)
from safenet.evidence.phone.ios_backup import IosBackupEvidence, WrongPassword, identity_from_info, load_plist

T = TypeVar("T")

RECORD_NAME: Final = "acquisition.json"
PASSWORD_LEFT_CODE: Final = "ios-backup-password-left"  # noqa: S105 - a warning code, not a secret
PROTOCOL: Final = "mobilebackup2"
BACKUP_TIMEOUT_S: Final = 24 * 3600.0  # a full backup of a full phone over USB 2 takes hours, not days

_CASE_WRITE_ERRORS: Final = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})

# The states of the one-time password in the acquisition record.
NONE, SETTING, SET, REMOVED, LEFT = "none", "setting", "set", "removed", "left"


def tool_version() -> str:
    return f"{afc.tool_version()} ({PROTOCOL})"


@dataclass
class Record:
    """The acquisition record kept beside the backup (owner-only, in the case). Never holds the examiner's
    password; holds the one-time password Safenet set on the phone, so that it can be undone."""

    udid: str
    tool: str
    started: str
    finished: str | None = None
    encryption: str = ""  # "one-time" (Safenet's password) or "examiner" (the phone's own, not recorded)
    one_time_password: str | None = None
    password_state: str = NONE
    password_removed: str | None = None  # when the one-time password was removed or found off (UTC, ISO 8601)

    @classmethod
    def load(cls, path: Path) -> Record | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        """Written whole to a scratch file and renamed over the old one: a crash leaves one or the other."""
        scratch = path.with_name(path.name + ".new")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(self.__dict__, stream, indent=1)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(scratch, path)

    @property
    def password_on_device(self) -> bool:
        """Whether Safenet's one-time password may still be set on the phone."""
        return self.one_time_password is not None and self.password_state in (SETTING, SET, LEFT)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Device:
    """An open lockdown session with the phone on its own event loop (``afc._Loop``); closed when dropped."""

    def __init__(self, udid: str) -> None:
        self.udid = udid
        self.loop = afc._Loop()
        try:
            self.lockdown = self.loop.run(_connect(udid), timeout=afc.OP_TIMEOUT_S + afc.PAIR_WAIT_S)
        except BaseException as exc:
            self.loop.stop()
            if isinstance(exc, Exception) and not isinstance(exc, EvidenceError):
                raise afc._open_error(udid, exc) from exc
            raise
        self.values: dict[str, Any] = dict(self.lockdown.all_values)
        self._finalizer = weakref.finalize(self, self.loop.stop, _close(self.lockdown))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = afc.OP_TIMEOUT_S) -> T:
        """Run one step on the phone; a lost connection raises DeviceLost. An interrupt cancels the step first,
        so that what follows (removing the one-time password) is not refused as a second backup session."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop.loop)
        try:
            return future.result(timeout)
        except BaseException as exc:
            future.cancel()
            if isinstance(exc, concurrent.futures.CancelledError | EvidenceError | _DeviceRefused):
                raise
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise  # the case's disk is full: the command's disk-full sentence and exit code, as for any write
            if isinstance(exc, OSError) and exc.errno in _CASE_WRITE_ERRORS:  # this computer's disk, not the phone
                raise EvidenceError(
                    f"the backup of the iOS device {self.udid} cannot be written into the case ({exc.strerror}); "
                    "fix the case folder's permissions, then run again with --resume (it is taken again)"
                ) from exc
            if isinstance(exc, afc._lost_errors()):
                message = f"the iOS device {self.udid} stopped answering during its backup ({type(exc).__name__}; "
                raise afc.DeviceLost(message + "unplugged?): reconnect it and run again with --resume") from exc
            from pymobiledevice3.exceptions import DevicePathError  # loaded already: it reached the phone

            if isinstance(exc, DevicePathError):  # pymobiledevice3 refused a name before writing anything
                raise EvidenceError(
                    f"the iOS device {self.udid} sent a backup file whose name leads outside the backup folder "
                    f"({exc}): the backup was stopped, nothing was written outside the folder, and the case holds "
                    "no backup of the device"
                ) from exc
            if isinstance(exc, Exception):
                raise _DeviceRefused(f"{type(exc).__name__}: {exc}") from exc
            raise

    def close(self) -> None:
        self._finalizer()


class _DeviceRefused(Exception):
    """The phone answered a backup request with an error: pymobiledevice3's exception, named, as its text."""


async def _connect(udid: str) -> Any:
    from pymobiledevice3.exceptions import DeviceNotFoundError
    from pymobiledevice3.lockdown import create_using_usbmux
    from pymobiledevice3.usbmux import select_device

    if await select_device(udid) is None:
        raise DeviceNotFoundError(udid)
    return await create_using_usbmux(
        serial=udid, autopair=True, pair_timeout=afc.PAIR_WAIT_S, pairing_records_cache_folder=afc.PAIR_RECORD_FOLDER
    )


async def _close(lockdown: Any) -> None:
    await lockdown.close()


async def _will_encrypt(lockdown: Any) -> bool:
    value = await lockdown.get_value("com.apple.mobile.backup", "WillEncrypt")
    return bool(value)


async def _change_password(lockdown: Any, folder: Path, old: str = "", new: str = "") -> None:
    from pymobiledevice3.services.mobilebackup2 import Mobilebackup2Service

    async with Mobilebackup2Service(lockdown) as service:
        await service.change_password(folder, old=old, new=new)


async def _backup(lockdown: Any, folder: Path) -> None:
    from pymobiledevice3.services.mobilebackup2 import Mobilebackup2Service

    async with Mobilebackup2Service(lockdown) as service:
        await service.backup(full=True, backup_directory=folder)


class IosFullBackupEvidence:
    """A live iOS device read through a full local backup Safenet takes into the case."""

    NAME: ClassVar[str] = "ios-backup-live"

    def __init__(self, udid: str, context: OpenContext, acquire: Acquire) -> None:
        self.udid, self.context, self.acquire = udid, context, acquire
        self.source = f"ios://{udid}"
        self.folder = acquire.folder
        self.record_path = self.folder / RECORD_NAME
        self._device: _Device | None = None
        self._backup: IosBackupEvidence | None = None
        self._identity: DeviceIdentity | None = None
        self._will_encrypt = False
        self._reuse = False  # --resume and a finished backup stored: read it, do not take another
        record = Record.load(self.record_path)
        if acquire.resume and record is not None and record.finished and self._stored(record) is not None:
            self._reuse = True

    # --- where things are ------------------------------------------------------------------------------------

    def _stored(self, record: Record) -> Path | None:
        root = self.folder / record.udid
        return root if (root / "Manifest.plist").is_file() else None

    @property
    def identity(self) -> DeviceIdentity:
        if self._identity is None:
            record = Record.load(self.record_path)
            stored = self._stored(record) if record is not None else None
            if stored is not None and (stored / "Info.plist").is_file():
                try:
                    info = load_plist(stored / "Info.plist")
                except (OSError, ValueError):  # a damaged Info.plist: the backup back-end says so when it reads it
                    info = {}
                self._identity = identity_from_info(info)
            else:
                from safenet.evidence.phone.ios_live import identity_of

                self._identity = identity_of(self._connected().values, self.udid)
        return self._identity

    @property
    def locator(self) -> Locator:
        return device_locator(self.source, self.identity.label(), Acquisition.IOS_BACKUP)

    def _connected(self) -> _Device:
        if self._device is None:
            self._device = _Device(self.udid)
            self._will_encrypt = self._device.run(_will_encrypt(self._device.lockdown))
        return self._device

    # --- the Evidence protocol -------------------------------------------------------------------------------

    def describe(self) -> EvidenceDescription:
        if not self._reuse:
            self._check_password()
        else:
            self._opened()  # a missing or wrong password is refused now, before the run is recorded
        previous = Record.load(self.record_path)
        how = "encrypted with the phone's own backup password (given by the examiner, not recorded)"
        if self._reuse:
            how = f"stored backup read again; see {self.record_path}"
        elif not self._will_encrypt or (previous is not None and previous.password_on_device):
            how = f"encrypted with a one-time password set by Safenet and removed after; recorded in {self.record_path}"
        record = AcquisitionRecord(Acquisition.IOS_BACKUP, tool_version(), f"full local backup ({how})")
        details = to_details(self.identity, record)
        details["acquisition.folder"] = str(self.folder)
        ios = self.identity.os_version or "version not given"
        summary = f"iOS device {display_safe(self.identity.label())} (iOS {display_safe(ios)}), full local backup"
        return EvidenceDescription(self.NAME, self.source, summary, details)

    def _check_password(self) -> None:
        """A phone that encrypts its backups needs its password, unless the password is Safenet's own left
        from an earlier run (recorded); refused before anything is recorded or asked of the phone."""
        self._connected()
        record = Record.load(self.record_path)
        if self._will_encrypt and not (record is not None and record.password_on_device) and not self._examiner():
            raise EvidenceError(
                f"the iOS device {self.udid} encrypts its backups with a password set on it: give that backup "
                "password (set in iTunes or Finder, not the phone's passcode) with --password"
            )

    def _examiner(self) -> str | None:
        return next(iter(self.context.passwords()), None)

    def items(self, warn: WarningSink) -> Iterator[Item]:
        if not self._reuse:
            self._take(warn)
        else:
            self._undo_left(warn)
        yield from self._opened().items(warn)

    def _undo_left(self, warn: WarningSink) -> None:
        """A stored backup read again: Safenet's one-time password, if an earlier run left it on the phone, is
        removed now if the phone is attached (the warning again if not)."""
        record = Record.load(self.record_path)
        if record is None or not record.password_on_device:
            return
        try:
            device = self._connected()
        except EvidenceError as exc:
            self._left(record, str(exc), warn)
            return
        self._undo(device, record, warn)

    def undo_left_password(self) -> str:
        """Turn off the backup encryption an earlier run left on the phone with Safenet's one-time password, for
        an exhibit whose run completed (it is not triaged again, so ``--resume`` cannot). Returns what was done,
        in one sentence; EvidenceError when the phone cannot be reached or does not turn it off."""
        record = Record.load(self.record_path)
        if record is None:
            return f"nothing to undo: no backup of this exhibit was taken by Safenet ({self.record_path} is missing)"
        if not record.password_on_device:
            state = record.password_state if record.encryption == "one-time" else "never set"
            return f"nothing to undo: Safenet's one-time backup password is not on the phone ({state})"
        try:
            why = self._undo(self._connected(), record, lambda warning: None)  # the refusal is this command's error
        finally:
            if self._device is not None:
                self._device.close()
        if why is not None:
            raise EvidenceError(
                f"the iOS device {self.udid} did not turn backup encryption off ({why}); it still encrypts its "
                f"backups with the one-time password recorded in {self.record_path}: unlock it (enter its passcode "
                "if it asks) and run this command again"
            )
        return (
            "the phone's backup encryption, which Safenet turned on, is off again (removed with the one-time "
            f"password recorded in {self.record_path}); audited in the case"
        )

    def _undo(self, device: _Device, record: Record, warn: WarningSink) -> str | None:
        """Remove Safenet's one-time password from the phone, or note it was turned off since; why it is still on,
        None when it is off."""
        if not self._will_encrypt:  # turned off since (in Finder or iTunes, with the recorded password)
            record.password_state, record.password_removed = REMOVED, _now()
            record.save(self.record_path)
            self._audit("ios-backup-encryption-removed", record, reason="found off on the device")
            return None
        return self._remove_password(device, record, warn)

    def open(self, locator: Locator) -> BinaryIO:
        return self._opened().open(locator)

    # --- reading the stored backup ---------------------------------------------------------------------------

    def _opened(self) -> IosBackupEvidence:
        if self._backup is None:
            record = Record.load(self.record_path)
            stored = self._stored(record) if record is not None and record.finished else None
            if record is None or stored is None:
                raise EvidenceError(f"no finished backup of the iOS device {self.udid} is stored at {self.folder}")
            password = record.one_time_password if record.encryption == "one-time" else self._examiner()
            credentials = (Credential(CredentialKind.PASSWORD, password),) if password is not None else ()
            try:
                self._backup = IosBackupEvidence(stored, replace(self.context, credentials=credentials), self.locator)
            except WrongPassword as exc:
                if record.encryption == "examiner":
                    raise EvidenceError(
                        f"the password given with --password is not the backup password of the iOS device "
                        f"{self.udid}; give the password set for its backups in iTunes or Finder (not the phone's "
                        "passcode) and run again with --resume (the backup taken is kept and read again)"
                    ) from exc
                raise
        return self._backup

    # --- taking the backup -----------------------------------------------------------------------------------

    def _take(self, warn: WarningSink) -> None:
        device = self._connected()
        self._make_folder()
        previous = Record.load(self.record_path)
        record = Record(self._folder_name(device), tool_version(), _now())
        if previous is not None and previous.password_on_device:  # Safenet's own, left by an earlier run
            record.encryption, record.one_time_password = "one-time", previous.one_time_password
            # still set if the phone still encrypts (an earlier run that stopped while setting it: if it does)
            record.password_state = SET if self._will_encrypt else NONE
        elif self._will_encrypt:
            record.encryption = "examiner"
        else:
            record.encryption, record.one_time_password = "one-time", secrets.token_urlsafe(24)
        self._set_aside(previous, record.udid)
        record.save(self.record_path)
        try:
            if record.encryption == "one-time" and record.password_state == NONE:
                self._set_password(device, record)
            device.run(_backup(device.lockdown, self.folder), timeout=BACKUP_TIMEOUT_S)
            record.finished = _now()
            record.save(self.record_path)
        except _DeviceRefused as exc:
            raise EvidenceError(f"the iOS device {self.udid} refused the backup ({exc})") from exc
        finally:
            if record.password_state == SET:
                self._remove_password(device, record, warn)

    def _folder_name(self, device: _Device) -> str:
        """The name mobilebackup2 gives the backup's folder: the phone's own UDID, dashes and all (the UDID typed
        may lack them). The phone's answer is used only where it is the UDID typed, give or take its dashes: it is
        the phone's text, and a folder of that name is removed before the backup."""
        own = str(device.lockdown.udid or "")
        return own if own.replace("-", "") == self.udid.replace("-", "") else self.udid

    def _set_aside(self, previous: Record | None, udid: str) -> None:
        """An unfinished backup is removed (taken again whole); a finished one from an earlier run is kept, renamed
        with its record beside it, since items recorded from it may be reopened. ``udid``: the folder the new
        backup is written to."""
        if previous is not None and previous.finished and (self.folder / previous.udid).is_dir():
            stamp = "".join(c for c in previous.finished if c.isdigit())[:14]
            (self.folder / previous.udid).rename(self.folder / f"{previous.udid}.{stamp}")
            os.replace(self.record_path, self.folder / f"{previous.udid}.{stamp}.json")
        shutil.rmtree(self.folder / udid, ignore_errors=True)

    def _make_folder(self) -> None:
        """The folder and those above it inside the case, owner-only like the rest of the case."""
        path = self.acquire.case
        if not self.folder.is_relative_to(path):  # not in the case (a caller's choice): made as asked
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return
        for part in self.folder.relative_to(path).parts:
            path = path / part
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)
            os.chmod(path, 0o700)

    def _set_password(self, device: _Device, record: Record) -> None:
        assert record.one_time_password is not None
        record.password_state = SETTING  # recorded before the phone is asked: a crash leaves it known
        record.save(self.record_path)
        try:
            device.run(_change_password(device.lockdown, self.folder, new=record.one_time_password))
        except _DeviceRefused as exc:
            record.password_state = NONE
            record.save(self.record_path)
            raise EvidenceError(
                f"the iOS device {self.udid} refused to turn backup encryption on ({exc}); unlock it and run again"
            ) from exc
        record.password_state = SET
        record.save(self.record_path)
        self._audit("ios-backup-encryption-set", record)

    def _remove_password(self, device: _Device, record: Record, warn: WarningSink) -> str | None:
        """Why the phone did not turn the one-time password off (it is then recorded as left, and warned); None when
        it did."""
        assert record.one_time_password is not None
        why = ""
        try:
            device.run(_change_password(device.lockdown, self.folder, old=record.one_time_password))
        except (_DeviceRefused, EvidenceError) as exc:
            why = str(exc)
        except concurrent.futures.CancelledError:
            why = "interrupted"
        if not why:
            record.password_state, record.password_removed = REMOVED, _now()
            record.save(self.record_path)
            self._audit("ios-backup-encryption-removed", record)
            return None
        self._left(record, why, warn)
        return why

    def _left(self, record: Record, why: str, warn: WarningSink) -> None:
        record.password_state = LEFT
        record.save(self.record_path)
        self._audit("ios-backup-encryption-left", record, reason=why)
        message = (
            f"backup encryption Safenet turned on for the backup could not be turned off again ({why}): the phone "
            f"still encrypts its backups with the one-time password recorded in {self.record_path}; if this run was "
            "interrupted, connect it and run again with --resume (which removes it), else connect and unlock it and "
            "run `safenet case undo-backup-password` with this case and exhibit, or turn it off in Finder or iTunes "
            '(untick "Encrypt local backup") with that password'
        )
        warn(EvidenceWarning(PASSWORD_LEFT_CODE, message, self.locator))

    def _audit(self, event: str, record: Record, **extra: str) -> None:
        """An audit event in the case for a change Safenet made to the exhibit (the one-time password is not a
        credential of the examiner's: recording it lets anyone holding the case undo the change)."""
        from safenet.case.audit import AuditLog
        from safenet.case.store import AUDIT_NAME

        AuditLog(self.acquire.case / AUDIT_NAME).append(
            event,
            source=self.source,
            password=record.one_time_password,
            recorded_in=str(self.record_path),
            **extra,
        )


def password_left_then_removed(case: Path, exhibit: str) -> str | None:
    """When the one-time password a run of ``exhibit`` left on its phone was removed afterwards (by a resumed run
    or ``safenet case undo-backup-password``), as its record says: "" where the record predates the removal time
    being kept; None when it was not removed (or there is no record)."""
    record = Record.load(acquisition_folder(case, exhibit) / RECORD_NAME)
    if record is None or record.password_state != REMOVED:
        return None
    return record.password_removed or ""


def acquisition_folder(case: Path, exhibit: str) -> Path:
    """Where the backup of ``exhibit`` is kept in the case: ``<case>/acquisitions/<exhibit>/ios-backup`` (the
    label made a plain file name: it is the examiner's text, not a path)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in exhibit).strip(".") or "exhibit"
    return case / "acquisitions" / name / "ios-backup"


def reopen_context(case: Path, exhibit: str, source: str, context: OpenContext | None) -> OpenContext | None:
    """The context to reopen an exhibit's items with (verify, reports, review): an ``ios://`` exhibit read through
    a backup Safenet took into the case is reopened from that backup, never from the phone and never taken again;
    any other exhibit keeps ``context`` as given."""
    acquire = _taken(case, exhibit)
    if not source.startswith("ios://") or not (acquire.folder / RECORD_NAME).is_file():
        return context
    return replace(context or OpenContext(), acquire=acquire)


def _taken(case: Path, exhibit: str) -> Acquire:
    """The backup Safenet took of ``exhibit`` into ``case``, to be read again, never taken again."""
    case = case.resolve()
    return Acquire(case, acquisition_folder(case, exhibit), resume=True)


def undo_left_password(case: Path, exhibit: str, source: str) -> str:
    """``safenet case undo-backup-password``: Safenet's one-time backup password, left on the phone of a completed
    ``--ios-backup`` exhibit, turned off with the password the case records. One sentence of what was done."""
    if not source.startswith("ios://"):
        raise EvidenceError(
            f"exhibit {exhibit} is {source}, not an iPhone or iPad backed up with --ios-backup: Safenet set no "
            "backup password on it"
        )
    return IosFullBackupEvidence(
        source.removeprefix("ios://"), OpenContext(), _taken(case, exhibit)
    ).undo_left_password()


def open_full_backup(udid: str, context: OpenContext) -> IosFullBackupEvidence:
    """``ios://UDID`` with ``--ios-backup``: nothing is asked of the phone until the run describes or lists it."""
    assert context.acquire is not None
    return IosFullBackupEvidence(udid, context, context.acquire)


__all__ = [
    "PASSWORD_LEFT_CODE",
    "RECORD_NAME",
    "IosFullBackupEvidence",
    "Record",
    "acquisition_folder",
    "open_full_backup",
    "password_left_then_removed",
    "reopen_context",
    "undo_left_password",
]
