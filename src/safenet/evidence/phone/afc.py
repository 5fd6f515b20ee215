"""A live iOS device's media domain over Apple File Conduit, through pymobiledevice3, for synchronous callers.

pymobiledevice3 reaches the device the way Apple's own tools do: usbmuxd (the USB multiplexer daemon, at its
platform socket or ``USBMUXD_SOCKET_ADDRESS``) lists the device and forwards connections to it; lockdownd on
the device answers identity values and, once this computer's pair record is accepted (a TLS session keyed by
it), starts services; ``com.apple.afc`` serves ``/var/mobile/Media`` (DCIM, PhotoData) as AFC packets.

pymobiledevice3 is asynchronous; Safenet's back-ends are not. An :class:`AfcSession` owns one event loop on a
daemon thread, and every call submits a coroutine to it and waits (with a time limit, so a device that stops
answering ends the wait). Over AFC only read operations are ever sent: directory listings, file information,
and files opened read-only, read, seeked and closed; nothing is written, renamed or removed on the device. The
one request that changes the device is lockdown's ``Pair``, sent only when the device holds no pair record of
this computer: it raises the Trust prompt, and once the owner accepts, the device keeps this computer as
trusted (``PAIR_WAIT_S``).

Errors: opening a session raises :class:`~safenet.evidence.model.EvidenceError` with one sentence saying what
to do (device not found, not trusted, locked, usbmuxd not running). Once open, a lost connection raises
:class:`DeviceLost` (a ``SourceLost``: the engine stops the run, resumable), and every later call does too
without waiting on the device again; a file the device refuses raises ``OSError`` (``FileNotFoundError`` when
it is gone).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import io
import threading
import weakref
from collections.abc import Coroutine
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final, TypeVar

from safenet.evidence.model import EvidenceError, SourceLost
from safenet.evidence.streams import PositionedReader

T = TypeVar("T")

OP_TIMEOUT_S: Final = 60.0  # one AFC operation (a 4 MiB read at USB 2 speed takes well under a second)
READ_CHUNK: Final = 4 << 20  # AFC's own largest single read (pymobiledevice3's MAXIMUM_READ_SIZE)
SERVICE: Final = "com.apple.afc"

#: How long a device without this computer's pair record is given for its owner to tap Trust (and enter the
#: passcode) on the prompt the pairing request raises; then the open fails with the sentence saying so.
PAIR_WAIT_S = 30.0

#: Where pymobiledevice3 keeps its own pair records (None: its default, ``~/.pymobiledevice3``). usbmuxd's
#: records (``/var/lib/lockdown``) are asked first either way. Tests point this at a scratch folder.
PAIR_RECORD_FOLDER: Path | None = None


DISCONNECTED_CODE: Final = "device-disconnected"


class DeviceLost(SourceLost):
    """The device stopped answering after the session was open (unplugged, rebooted, locked up): the engine
    stops the run with this one warning, and ``--resume`` continues once the device is back."""

    def __init__(self, message: str, code: str = DISCONNECTED_CODE) -> None:
        super().__init__(message, code)


class Malformed(OSError):
    """The device answered for one path in a shape AFC does not have (a hostile or broken device)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry as the device's AFC ``GET_FILE_INFO`` gives it (times in ns since 1970, UTC)."""

    name: str
    kind: str  # st_ifmt: "S_IFREG", "S_IFDIR", "S_IFLNK" ...
    size: int
    mtime_ns: int | None
    birthtime_ns: int | None
    problem: str = ""  # why the device's information about this entry could not be used ("" when it could)


def tool_version() -> str:
    """The acquisition tool as recorded with the exhibit."""
    return f"pymobiledevice3 {version('pymobiledevice3')}"


class _Loop:
    """One asyncio event loop on a daemon thread; synchronous callers hand it coroutines and wait."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_quiet_when_lost)
        self.thread = threading.Thread(target=self.loop.run_forever, name="ios-afc", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = OP_TIMEOUT_S) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self, closing: Coroutine[Any, Any, None] | None = None) -> None:
        """Run ``closing`` (bounded), cancel whatever is still pending (the AFC reader), stop the loop."""
        if threading.current_thread() is self.thread:  # a finalizer run by the garbage collector on the loop
            if closing is not None:
                closing.close()
            self.loop.stop()
            return
        if closing is not None:
            with contextlib.suppress(Exception):  # a device that went away: nothing left to close politely
                self.run(closing, timeout=5)
        with contextlib.suppress(Exception):
            self.run(_cancel_pending(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


def _quiet_when_lost(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Once the device is gone, pymobiledevice3's AFC reader leaves the connection's failure on requests that
    # nobody waits for any more ("Future exception was never retrieved"): the request that was waiting has
    # already raised DeviceLost, so this is noise on the examiner's console, not news.
    if isinstance(context.get("exception"), _lost_errors()):
        return
    loop.default_exception_handler(context)


async def _cancel_pending() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _lost_errors() -> tuple[type[BaseException], ...]:
    """What a connection that went away raises, from any layer (socket, TLS, usbmuxd, pymobiledevice3)."""
    from pymobiledevice3.exceptions import ConnectionTerminatedError, MuxException

    return (
        ConnectionTerminatedError,
        MuxException,
        ConnectionError,
        EOFError,
        asyncio.IncompleteReadError,
        concurrent.futures.TimeoutError,
        TimeoutError,
        OSError,
    )


def _open_error(udid: str, exc: BaseException) -> EvidenceError:
    """The one sentence for a device that cannot be opened (the CLI prints it and exits 3)."""
    from pymobiledevice3 import exceptions as pe

    who = f"the iOS device {udid}"
    if isinstance(exc, pe.ConnectionFailedToUsbmuxdError):
        return EvidenceError(
            "cannot reach usbmuxd (the service through which this computer talks to iPhones and iPads): "
            "install and start usbmuxd, then run again"
        )
    if isinstance(exc, pe.NoDeviceConnectedError | pe.DeviceNotFoundError | pe.BadDevError):
        return EvidenceError(f"{who} is not connected; check the cable and `safenet devices`, then run again")
    if isinstance(exc, pe.PasswordRequiredError | pe.PasscodeRequiredError):
        return EvidenceError(f"{who} is locked: unlock it and keep it unlocked while it is read, then run again")
    if isinstance(
        exc,
        pe.PairingDialogResponsePendingError
        | pe.UserDeniedPairingError
        | pe.NotPairedError
        | pe.InvalidHostIDError
        | pe.FatalPairingError
        | pe.PairingError,
    ):
        return EvidenceError(f"{who} has not trusted this computer: unlock the phone and tap Trust, then run again")
    if isinstance(exc, _lost_errors()):
        return EvidenceError(f"{who} stopped answering while it was being opened; reconnect it and run again")
    return EvidenceError(f"{who} could not be opened over AFC ({type(exc).__name__}: {exc})")


def _ns(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


class AfcSession:
    """An open lockdown session with one device and its AFC service (the media domain), used synchronously.

    Safe to use from several threads at once: the AFC client matches answers to requests by packet number.
    """

    def __init__(self, udid: str, values: dict[str, Any], loop: _Loop, lockdown: Any, afc: Any) -> None:
        self.udid, self.values = udid, values
        self._loop, self._afc = loop, afc
        self._lost = False
        # Closed when dropped (back-ends have no close): the AFC and lockdown connections, then the loop.
        self._finalizer = weakref.finalize(self, _shutdown, loop, lockdown, afc)

    @classmethod
    def open(cls, udid: str) -> AfcSession:
        """Connect to the device with this UDID: pair record validated (the owner is asked to Trust this
        computer if it has none; no answer within ``PAIR_WAIT_S`` fails with a sentence saying so), AFC started."""
        loop = _Loop()
        try:
            lockdown, afc = loop.run(_connect(udid), timeout=OP_TIMEOUT_S + PAIR_WAIT_S)
        except BaseException as exc:
            loop.stop()
            if isinstance(exc, EvidenceError):
                raise
            if isinstance(exc, Exception):
                raise _open_error(udid, exc) from exc
            raise
        return cls(udid, dict(lockdown.all_values), loop, lockdown, afc)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._lost:
            coro.close()
            raise DeviceLost(f"the iOS device {self.udid} was disconnected; reconnect it and run again with --resume")
        from pymobiledevice3.exceptions import AfcException

        try:
            return self._loop.run(coro)
        except AfcException as exc:  # the device answered: this one path is refused, the session is fine
            raise _afc_oserror(exc) from exc
        except Malformed:  # an OSError for this one path, not a lost connection
            raise
        except _lost_errors() as exc:
            self._lost = True
            why = type(exc).__name__
            message = f"the iOS device {self.udid} stopped answering ({why}; unplugged?): reconnect it and run again"
            raise DeviceLost(f"{message} with --resume") from exc

    @property
    def lost(self) -> bool:
        return self._lost

    def listdir(self, path: str) -> list[Entry]:
        """The entries of a folder, each with its file information (asked for concurrently)."""
        return self._call(_listdir(self._afc, path))

    def stat(self, path: str) -> Entry:
        return self._call(_stat(self._afc, path))

    def read_all(self, path: str, limit: int) -> bytes:
        """A whole file into memory (at most ``limit`` bytes: Photos.sqlite, which SQLite must see whole)."""
        with self.open_file(path) as stream:
            return stream.read(limit)

    def open_file(self, path: str, size: int | None = None) -> io.BufferedReader:
        """A read-only stream over the file, read from the device as it is consumed (never copied whole)."""
        handle = self._call(self._afc.fopen(path, "r"))
        return io.BufferedReader(_AfcRaw(self, path, handle, size), buffer_size=1 << 20)

    def close(self) -> None:
        self._finalizer()


def _shutdown(loop: _Loop, lockdown: Any, afc: Any) -> None:
    loop.stop(_close(lockdown, afc))


def _afc_oserror(exc: Any) -> OSError:
    """An AFC refusal of one path as the OSError the pipeline records for that item alone."""
    from pymobiledevice3.exceptions import AfcFileNotFoundError
    from pymobiledevice3.services.afc import AfcError

    status = getattr(exc, "status", None)
    if isinstance(exc, AfcFileNotFoundError) or status == AfcError.OBJECT_NOT_FOUND:
        return FileNotFoundError(errno.ENOENT, "no longer on the device")
    name = str(getattr(status, "name", "error")).lower().replace("_", " ")
    return OSError(errno.EIO, f"the device refused the request ({name})")


class _AfcRaw(PositionedReader):
    """The bytes of one device file: AFC reads of at most 4 MiB, a seek sent only when the position jumps."""

    def __init__(self, session: AfcSession, path: str, handle: int, size: int | None) -> None:
        super().__init__()
        self._session, self._path, self._handle, self._size = session, path, handle, size
        self._pos = 0
        self._device_pos = 0

    def _end(self) -> int:
        if self._size is None:
            self._size = self._session.stat(self._path).size
        return self._size

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), READ_CHUNK)
        if want == 0:
            return 0
        session = self._session
        if self._device_pos != self._pos:
            session._call(session._afc.fseek(self._handle, self._pos))
            self._device_pos = self._pos
        data: bytes = session._call(_read(session._afc, self._handle, want))
        view[: len(data)] = data
        self._pos += len(data)
        self._device_pos = self._pos
        return len(data)

    def close(self) -> None:
        if not self.closed and not self._session.lost:
            with contextlib.suppress(OSError, EvidenceError):  # the handle dies with the connection
                self._session._call(self._session._afc.fclose(self._handle))
        super().close()


def list_devices() -> list[tuple[str, bool | None, dict[str, Any]]]:
    """``(udid, paired, lockdown values)`` per device usbmuxd lists; paired None when lockdownd did not answer.

    ``autopair=False``: listing never asks a device to pair (no Trust prompt). No usbmuxd: EvidenceError with
    the sentence saying so (``safenet devices`` prints it as a note and still lists Android phones).
    """
    from pymobiledevice3.exceptions import ConnectionFailedToUsbmuxdError

    loop = _Loop()
    try:
        return loop.run(_list())
    except ConnectionFailedToUsbmuxdError as exc:
        raise _open_error("", exc) from exc
    finally:
        loop.stop()


# --- the coroutines, run on the session's loop -------------------------------------------------------------


async def _connect(udid: str) -> tuple[Any, Any]:
    from pymobiledevice3.exceptions import DeviceNotFoundError
    from pymobiledevice3.lockdown import create_using_usbmux
    from pymobiledevice3.services.afc import AfcService
    from pymobiledevice3.usbmux import select_device

    if await select_device(udid) is None:
        raise DeviceNotFoundError(udid)
    # A device without this computer's pair record shows its Trust prompt; the same pairing request is repeated
    # for PAIR_WAIT_S (pymobiledevice3 asks once a second), then the open fails (PairingDialogResponsePending).
    lockdown = await create_using_usbmux(
        serial=udid, autopair=True, pair_timeout=PAIR_WAIT_S, pairing_records_cache_folder=PAIR_RECORD_FOLDER
    )
    try:
        afc = AfcService(lockdown, SERVICE)
        await afc.connect()
    except BaseException:
        await lockdown.close()
        raise
    return lockdown, afc


async def _list() -> list[tuple[str, bool | None, dict[str, Any]]]:
    from pymobiledevice3.lockdown import create_using_usbmux
    from pymobiledevice3.usbmux import list_devices as mux_devices

    out: list[tuple[str, bool | None, dict[str, Any]]] = []
    seen: set[str] = set()
    for device in await mux_devices():
        if device.serial in seen:  # the same device over USB and over the network
            continue
        seen.add(device.serial)
        try:
            lockdown = await create_using_usbmux(
                serial=device.serial, autopair=False, pairing_records_cache_folder=PAIR_RECORD_FOLDER
            )
        except Exception:
            out.append((device.serial, None, {}))
            continue
        try:
            out.append((device.serial, lockdown.paired, dict(lockdown.all_values) if lockdown.paired else {}))
        finally:
            await lockdown.close()
    return out


async def _close(lockdown: Any, afc: Any) -> None:
    await afc.aclose()
    await lockdown.close()


async def _stat_raw(afc: Any, path: str) -> dict[str, str]:
    # The raw answer rather than AfcService.stat, which turns the device's nanosecond UTC times into naive
    # local datetimes (losing the zone and the nanoseconds).
    from pymobiledevice3.exceptions import AfcException, AfcFileNotFoundError
    from pymobiledevice3.services.afc import AfcError, AfcOpcode, list_to_dict

    try:
        data = await afc._do_operation(AfcOpcode.GET_FILE_INFO, path.encode("utf-8") + b"\0", path)
    except AfcException as exc:
        if exc.status == AfcError.READ_ERROR:  # what a missing path answers to GET_FILE_INFO
            raise AfcFileNotFoundError(f"No such file on the device: {path}", exc.status, path) from exc
        raise
    try:
        return list_to_dict(data)
    except ValueError as exc:  # not key/value pairs of UTF-8 text: this path's answer is unusable, not the session
        raise Malformed("the device's information about it is malformed") from exc


def _entry(name: str, info: dict[str, str]) -> Entry:
    return Entry(
        name,
        info.get("st_ifmt", ""),
        _ns(info.get("st_size")) or 0,
        _ns(info.get("st_mtime")),
        _ns(info.get("st_birthtime")),
    )


async def _stat(afc: Any, path: str) -> Entry:
    return _entry(path.rpartition("/")[2], await _stat_raw(afc, path))


async def _listdir(afc: Any, path: str) -> list[Entry]:
    names = [n for n in await afc.listdir(path) if n not in ("", ".", "..")]
    base = path.rstrip("/")
    infos = await asyncio.gather(*(_stat_raw(afc, f"{base}/{n}") for n in names), return_exceptions=True)
    out: list[Entry] = []
    for name, info in zip(names, infos, strict=True):
        if isinstance(info, BaseException):
            if type(info).__name__ == "AfcFileNotFoundError":
                continue  # removed between the listing and its information: not there any more
            if isinstance(info, Malformed):
                out.append(Entry(name, "", 0, None, None, str(info)))
            elif type(info).__name__ == "AfcException":  # the device refused this one path
                out.append(Entry(name, "", 0, None, None, _afc_oserror(info).strerror or "refused"))
            else:
                raise info  # the connection, not this entry
            continue
        out.append(_entry(name, info))
    return out


async def _read(afc: Any, handle: int, size: int) -> bytes:
    # One READ packet (AfcService.fread loops until it has `size`, but the device answers short at the end
    # of the file; one packet keeps the stream's position exact).
    from pymobiledevice3.exceptions import AfcException
    from pymobiledevice3.services.afc import AfcError, AfcFreadRequest, AfcOpcode

    status, chunk = await afc._send_and_wait(AfcOpcode.READ, AfcFreadRequest(handle=handle, size=size).build())
    if status != AfcError.SUCCESS:
        raise AfcException("Failed to read from the file.", status)
    return bytes(chunk)
