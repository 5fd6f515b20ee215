"""A test double of the DEVICE side of the ADB protocol (what adbd does on a phone), on a loopback TCP port.

The real Debian ``adb`` server reaches it with ``adb connect 127.0.0.1:PORT``, exactly as it reaches a phone
in TCP/IP debugging mode; Safenet then talks to that server through the real ``adbutils``. Only this side is
made up, and it follows the AOSP descriptions of the transport (protocol.txt), the sync service (SYNC.TXT)
and the services (SERVICES.TXT):

- messages: a 24-byte header (command, arg0, arg1, payload length, payload checksum, magic = command ^
  0xffffffff), little-endian; the checksum is the byte sum of the payload, which servers speaking version
  0x01000001 or later no longer check (this double answers with that version, and still sends the sum);
- CNXN: the server's ``CNXN(version, maxdata, "host::features=...")`` is answered with the banner
  ``device::ro.product.name=...;ro.product.model=...;ro.product.device=...;features=...``;
- streams: ``OPEN(local, 0, "service\\0")`` is answered ``OKAY(ours, theirs)`` or ``CLSE(0, theirs)``; each
  ``WRTE`` is acknowledged with ``OKAY`` and the next ``WRTE`` waits for the peer's ``OKAY`` (no delayed
  acknowledgement: servers before platform-tools 33 do not know it); ``CLSE`` ends a stream;
- ``sync:``: STAT, LIST, RECV, and their v2 forms STA2, LST2, LIS2 (the banner advertises ``stat_v2`` and
  ``ls_v2``, so the adb client's ``pull`` uses them, while adbutils speaks v1), QUIT; SEND is refused
  (nothing is ever written to a phone by Safenet, and a write would be a test failure);
- ``shell:`` (v1, raw: output then close): ``getprop`` and ``getprop NAME``, ``content query --uri
  content://media/external/file[?...] --projection a:b:c`` answering MediaStore rows in the real text shape
  (``Row: 0 _data=/storage/emulated/0/..., owner_package_name=..., ...``), ``service call iphonesubinfo 1``
  (a SecurityException parcel, as Android 10 and later answer the shell user, unless an IMEI is given);
  anything else gets the shell's error text.

Behaviours for the error cases: ``mode="unauthorised"`` answers CNXN with ``AUTH(TOKEN)`` and never accepts
a key (the owner never taps "allow"); ``mode="offline"`` accepts the TCP connection and never answers;
``drop_after`` closes every connection after that many bytes of file data, refusing new ones until
:meth:`PhoneDouble.come_back` (a cable pulled mid-run, then plugged back); ``rate`` caps file data at that
many bytes a second over all connections, like a phone on USB (the benchmark's second regime).

The folder given is the phone's shared storage (``/sdcard``, also reachable as ``/storage/emulated/0``).
Files are read straight from it; nothing in it is changed.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shlex
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

A_SYNC, A_CNXN, A_OPEN, A_OKAY = 0x434E5953, 0x4E584E43, 0x4E45504F, 0x59414B4F
A_CLSE, A_WRTE, A_AUTH = 0x45534C43, 0x45545257, 0x48545541
A_VERSION = 0x01000001  # the first version whose peers skip payload checksums
MAX_PAYLOAD = 1024 * 1024
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3
SYNC_DATA_MAX = 64 * 1024
HEADER = struct.Struct("<6I")
FEATURES = "cmd,stat_v2,ls_v2,fixed_push_mkdir,apex"  # no shell_v2: shell output is raw, then CLSE
SHARED = ("/sdcard", "/storage/emulated/0", "/storage/self/primary")

DEFAULT_PROPS = {
    "ro.product.manufacturer": "Google",
    "ro.product.model": "Pixel 7",
    "ro.product.name": "panther",
    "ro.product.device": "panther",
    "ro.serialno": "28031FDH2000TE",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
}


@dataclass
class MediaRow:
    """One MediaStore row (``content://media/external/file``), by the path under shared storage."""

    path: str  # e.g. "DCIM/Camera/x.jpg"
    owner: str | None = None
    date_added: int | None = None
    date_modified: int | None = None
    date_taken_ms: int | None = None
    is_trashed: int = 0
    mime: str | None = "image/jpeg"

    def column(self, name: str) -> str:
        values: dict[str, object] = {
            "_data": "/storage/emulated/0/" + self.path,
            "owner_package_name": self.owner,
            "date_added": self.date_added,
            "date_modified": self.date_modified,
            "datetaken": self.date_taken_ms,
            "is_trashed": self.is_trashed,
            "mime_type": self.mime,
            "_size": None,
        }
        value = values.get(name)
        return "NULL" if value is None else str(value)


@dataclass
class Counters:
    file_bytes: int = 0  # file data sent by RECV
    recv: int = 0
    shells: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # services or sync requests refused (a write, say)


class PhoneDouble:
    """A phone's adbd on ``127.0.0.1:port``: start it, ``adb connect`` to :attr:`address`, close it after."""

    def __init__(
        self,
        root: Path,
        *,
        props: dict[str, str] | None = None,
        media: list[MediaRow] | None = None,
        mode: str = "device",
        drop_after: int | None = None,
        imei: str | None = None,
        features: str = FEATURES,
        rate: float | None = None,
    ) -> None:
        self.root = root.resolve()
        self.props = {**DEFAULT_PROPS, **(props or {})}
        self.media = list(media or [])
        self.mode = mode
        self.drop_after = drop_after
        self.imei = imei
        self.features = features
        self.rate = rate  # bytes/s of file data over all connections (a USB-like phone), None: as fast as it goes
        self._due = 0.0  # when the file data sent so far would have left a phone of that rate
        self.counters = Counters()
        self.gone = False  # dropped: new connections are refused until come_back()
        self._lock = threading.Lock()
        self._transports: list[_Transport] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True, name="adb-double")
        self._thread.start()

    @property
    def address(self) -> str:
        """The serial the adb server gives this phone after ``adb connect``."""
        return f"127.0.0.1:{self.port}"

    def banner(self) -> bytes:
        p = self.props
        text = (
            f"device::ro.product.name={p['ro.product.name']};ro.product.model={p['ro.product.model']};"
            f"ro.product.device={p['ro.product.device']};features={self.features}"
        )
        return text.encode()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self.gone:
                sock.close()
                continue
            transport = _Transport(self, sock)
            with self._lock:
                self._transports.append(transport)
            threading.Thread(target=transport.run, daemon=True, name="adb-double-transport").start()

    def drop(self) -> None:
        """Pull the cable: every connection ends at once, new ones are refused."""
        self.gone = True
        with self._lock:
            transports, self._transports = self._transports, []
        for transport in transports:
            transport.kill()

    def come_back(self) -> None:
        """Plug the cable back (the adb server must ``connect`` again, as after a real reconnection)."""
        self.drop_after = None
        self.gone = False

    def close(self) -> None:
        self._listener.close()
        self.drop()

    def __enter__(self) -> PhoneDouble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the phone's file system ---------------------------------------------------------------------

    def local(self, device_path: str) -> Path | None:
        """The file behind a device path in shared storage, or None (outside it, or '..' in it)."""
        for prefix in SHARED:
            if device_path == prefix or device_path.startswith(prefix + "/"):
                rest = device_path[len(prefix) :].strip("/")
                parts = [p for p in rest.split("/") if p]
                if any(p in (".", "..") for p in parts):
                    return None
                return self.root.joinpath(*parts) if parts else self.root
        return None

    def count_data(self, n: int) -> None:
        with self._lock:
            self.counters.file_bytes += n
            over = self.drop_after is not None and self.counters.file_bytes >= self.drop_after
        if over:
            self.drop()
            raise ConnectionError("the double dropped the connection (cable pulled)")

    def throttle(self, n: int) -> None:
        """With a ``rate``: wait until ``n`` more bytes fit in it (a short burst of credit absorbs sleep overshoot)."""
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            self._due = max(self._due, now - 0.05) + n / self.rate
            wait = self._due - now
        if wait > 0:
            time.sleep(wait)

    # --- shell -------------------------------------------------------------------------------------

    def shell(self, command: str) -> bytes:
        self.counters.shells.append(command)
        try:
            argv = shlex.split(command)
        except ValueError:
            return b"/system/bin/sh: syntax error: unterminated quoted string\n"
        if not argv:
            return b""
        if argv[0] == "getprop":
            if len(argv) == 1:
                return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(self.props.items())).encode()
            return (self.props.get(argv[1], "") + "\n").encode()
        if argv[:2] == ["content", "query"]:
            return self._content_query(argv[2:])
        if argv[:3] == ["settings", "get", "global"] and len(argv) == 4:
            return (self.props.get(f"settings.global.{argv[3]}", "null") + "\n").encode()
        if argv[:3] == ["service", "call", "iphonesubinfo"]:
            return _imei_parcel(self.imei)
        return f"/system/bin/sh: {argv[0]}: inaccessible or not found\n".encode()

    def _content_query(self, args: list[str]) -> bytes:
        options = dict(zip(args[::2], args[1::2], strict=False))
        uri = options.get("--uri", "")
        if uri.split("?")[0] != "content://media/external/file":
            message = f"Error while accessing provider:{uri}\njava.lang.IllegalArgumentException: Unknown URL {uri}\n"
            return message.encode()
        columns = options.get("--projection", "_data").split(":")
        sdk = int(self.props.get("ro.build.version.sdk", "34"))
        known = {"_data", "owner_package_name", "date_added", "date_modified", "datetaken", "mime_type", "_size"}
        if sdk >= 30:
            known.add("is_trashed")
        bad = [c for c in columns if c not in known]
        if bad:
            return (
                "Error while accessing provider:media\n"
                f"android.database.sqlite.SQLiteException: no such column: {bad[0]} (code 1 SQLITE_ERROR)\n"
            ).encode()
        rows = [r for r in self.media if r.is_trashed == 0 or "includeTrashed=1" in uri]
        if not rows:
            return b"No result found.\n"
        lines = [f"Row: {i} " + ", ".join(f"{c}={row.column(c)}" for c in columns) for i, row in enumerate(rows)]
        return ("\n".join(lines) + "\n").encode()


def _imei_parcel(imei: str | None) -> bytes:
    """``service call iphonesubinfo 1`` output: the IMEI as a UTF-16 parcel, or Android 10+'s refusal."""
    if imei is None:
        memory = struct.pack("<ii", -1, 0) + "java.lang.SecurityException".encode("utf-16-le")
    else:
        memory = struct.pack("<ii", 0, len(imei)) + imei.encode("utf-16-le") + b"\0\0"
    memory += b"\0" * (-len(memory) % 4)
    lines = []
    for off in range(0, len(memory), 16):  # each word as a little-endian int, then the bytes as text
        chunk = memory[off : off + 16]
        words = " ".join(f"{int.from_bytes(chunk[i : i + 4], 'little'):08x}" for i in range(0, len(chunk), 4))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"  0x{off:08x}: {words:<35} '{text}'")
    return ("Result: Parcel(\n" + "\n".join(lines) + ")\n").encode()


# --- one TCP connection: the transport and its streams ------------------------------------------------


class _Closed(Exception):
    """The stream or the whole transport ended."""


class _Transport:
    def __init__(self, double: PhoneDouble, sock: socket.socket) -> None:
        self.double = double
        self.sock = sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_lock = threading.Lock()
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1
        self.maxdata = 4096
        self.version = A_VERSION
        self.dead = False

    def kill(self) -> None:
        self.dead = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for stream in list(self.streams.values()):
            stream.end()

    def send(self, command: int, arg0: int, arg1: int, payload: bytes = b"") -> None:
        check = sum(payload) if self.version < A_VERSION else 0
        header = HEADER.pack(command, arg0, arg1, len(payload), check, command ^ 0xFFFFFFFF)
        with self.send_lock:
            if self.dead:
                raise _Closed()
            try:
                self.sock.sendall(header + payload if len(payload) < 65536 else header)
                if len(payload) >= 65536:
                    self.sock.sendall(payload)
            except OSError as exc:
                raise _Closed() from exc

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise _Closed()
            buf += chunk
        return bytes(buf)

    def run(self) -> None:
        try:
            self._loop()
        except (_Closed, OSError):
            pass
        finally:
            self.kill()

    def _loop(self) -> None:
        double = self.double
        while True:
            command, arg0, arg1, length, _check, magic = HEADER.unpack(self._read(24))
            if magic != command ^ 0xFFFFFFFF:
                raise _Closed()
            payload = self._read(length) if length else b""
            if double.mode == "offline":
                continue  # the TCP connection is up, the phone never answers
            if command == A_CNXN:
                self.version = min(arg0, A_VERSION)
                self.maxdata = min(arg1, MAX_PAYLOAD)
                if double.mode == "unauthorised":
                    self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
                else:
                    self.send(A_CNXN, self.version, MAX_PAYLOAD, double.banner())
            elif command == A_AUTH:
                if arg0 == AUTH_SIGNATURE:  # never the right key: ask for the next one, as adbd does
                    self.send(A_AUTH, AUTH_TOKEN, 0, os.urandom(20))
                # AUTH_RSAPUBLICKEY: the prompt is on the screen; the owner never accepts
            elif command == A_OPEN:
                self._open(arg0, payload.rstrip(b"\0").decode("utf-8", "surrogateescape"))
            elif command == A_WRTE:
                stream = self.streams.get(arg1)
                if stream is not None:
                    stream.inbound.put(payload)
                    self.send(A_OKAY, arg1, arg0)
            elif command == A_OKAY:
                stream = self.streams.get(arg1)
                if stream is not None:
                    stream.acked.release()
            elif command == A_CLSE:
                stream = self.streams.pop(arg1, None)
                if stream is not None:
                    stream.end()

    def _open(self, remote: int, service: str) -> None:
        if service.startswith("sync:"):
            handler = _sync
        elif service.startswith("shell:"):
            handler = _shell
        else:
            self.double.counters.refused.append(service)
            self.send(A_CLSE, 0, remote)
            return
        local = self.next_id
        self.next_id += 1
        stream = _Stream(self, local, remote, service)
        self.streams[local] = stream
        self.send(A_OKAY, local, remote)
        threading.Thread(target=stream.serve, args=(handler,), daemon=True, name="adb-double-stream").start()


class _Stream:
    def __init__(self, transport: _Transport, local: int, remote: int, service: str) -> None:
        self.transport, self.local, self.remote, self.service = transport, local, remote, service
        self.inbound: queue.Queue[bytes | None] = queue.Queue()
        self.acked = threading.Semaphore(0)
        self.closed = False
        self._buf = bytearray()

    def end(self) -> None:
        self.closed = True
        self.inbound.put(None)
        self.acked.release()

    def serve(self, handler: Callable[[_Stream], None]) -> None:
        try:
            handler(self)
        except (_Closed, ConnectionError, OSError):
            return
        if not self.closed:
            self.transport.streams.pop(self.local, None)
            with contextlib.suppress(_Closed):
                self.transport.send(A_CLSE, self.local, self.remote)

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.inbound.get()
            if chunk is None:
                raise _Closed()
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        step = self.transport.maxdata
        for at in range(0, len(view), step):
            if self.closed:
                raise _Closed()
            self.transport.send(A_WRTE, self.local, self.remote, bytes(view[at : at + step]))
            self.acked.acquire()
            if self.closed:
                raise _Closed()


def _shell(stream: _Stream) -> None:
    stream.write(stream.transport.double.shell(stream.service[len("shell:") :]))


# --- the sync service ---------------------------------------------------------------------------------

_DENT = struct.Struct("<4sIIII")  # id, mode, size, mtime, namelen
_STAT = struct.Struct("<4sIII")  # id, mode, size, mtime
_STAT2 = struct.Struct("<4sIQQIIIIQqqq")  # id, error, dev, ino, mode, nlink, uid, gid, size, atime, mtime, ctime
_DENT2 = struct.Struct("<4sIQQIIIIQqqqI")  # ... and namelen


def _sync(stream: _Stream) -> None:
    double = stream.transport.double
    while True:
        request, length = struct.unpack("<4sI", stream.read(8))
        if request == b"QUIT":
            return
        path = stream.read(length).decode("utf-8", "surrogateescape")
        if request == b"STAT":
            st = _lstat(double, path)
            fields = (st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)) if st else (0, 0, 0)
            stream.write(_STAT.pack(b"STAT", *fields))
        elif request in (b"STA2", b"LST2"):
            st = _lstat(double, path) if request == b"LST2" else _stat(double, path)
            stream.write(_stat2(request, st))
        elif request in (b"LIST", b"LIS2"):
            stream.write(b"".join(_listing(double, path, v2=request == b"LIS2")))
        elif request == b"RECV":
            if not _recv(stream, double, path):
                return  # adbd ends the sync service after a FAIL for a file (file_sync_service.cpp's recv_impl)
        else:  # SEND, SND2 or anything else: a phone under examination is never written to
            double.counters.refused.append(request.decode("ascii", "replace"))
            message = b"this double refuses writes"
            stream.write(b"FAIL" + struct.pack("<I", len(message)) + message)
            return


def _lstat(double: PhoneDouble, path: str) -> os.stat_result | None:
    local = double.local(path)
    if local is None:
        return None
    try:
        return local.lstat() if local != double.root else local.stat()
    except OSError:
        return None


def _stat(double: PhoneDouble, path: str) -> os.stat_result | None:
    local = double.local(path)
    try:
        return local.stat() if local is not None else None
    except OSError:
        return None


def _stat2(kind: bytes, st: os.stat_result | None) -> bytes:
    if st is None:
        return _STAT2.pack(kind, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # error ENOENT
    return _STAT2.pack(
        kind, 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, 10_000, 10_000, st.st_size,
        int(st.st_atime), int(st.st_mtime), int(st.st_ctime),
    )  # fmt: skip


def _listing(double: PhoneDouble, path: str, *, v2: bool) -> Iterator[bytes]:
    local = double.local(path)
    entries: list[tuple[bytes, os.stat_result]] = []
    if local is not None and local.is_dir():
        with contextlib.suppress(OSError):
            for child in sorted(os.listdir(local)):
                with contextlib.suppress(OSError):
                    entries.append((os.fsencode(child), os.lstat(local / child)))
        entries = [(b".", local.stat()), (b"..", local.stat()), *entries]
    for name, st in entries:
        if v2:
            yield _DENT2.pack(
                b"DNT2", 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, 10_000, 10_000, st.st_size,
                int(st.st_atime), int(st.st_mtime), int(st.st_ctime), len(name),
            ) + name  # fmt: skip
        else:
            yield _DENT.pack(b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime), len(name)) + name
    yield _DENT2.pack(b"DONE", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) if v2 else _DENT.pack(b"DONE", 0, 0, 0, 0)


def _recv(stream: _Stream, double: PhoneDouble, path: str) -> bool:
    """Send the file as DATA chunks and DONE; False when it was refused with FAIL."""
    local = double.local(path)
    try:
        if local is None or not stat.S_ISREG(os.stat(local).st_mode):
            raise FileNotFoundError(2, "No such file or directory")
        handle = open(local, "rb")  # noqa: SIM115 - closed below, after the last chunk
    except OSError as exc:
        message = (exc.strerror or "open failed").encode()
        stream.write(b"FAIL" + struct.pack("<I", len(message)) + message)
        return False
    double.counters.recv += 1
    limit = stream.transport.maxdata - (SYNC_DATA_MAX + 8)
    out = bytearray()
    with handle:
        while True:
            chunk = handle.read(SYNC_DATA_MAX)
            if not chunk:
                break
            double.count_data(len(chunk))
            out += b"DATA" + struct.pack("<I", len(chunk))
            out += chunk
            if len(out) > limit:
                double.throttle(len(out))
                stream.write(out)
                out = bytearray()
    out += b"DONE" + struct.pack("<I", 0)
    double.throttle(len(out))
    stream.write(out)
    return True


def rows_for(root: Path, pattern: str = r".*") -> list[MediaRow]:
    """A MediaStore row for every file under ``root`` whose relative path matches ``pattern`` (no owner)."""
    rows = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and re.fullmatch(pattern, rel):
            rows.append(MediaRow(rel, date_added=int(path.stat().st_mtime)))
    return rows


# --- the real adb server, on a private port -------------------------------------------------------------


class AdbServer:
    """Debian's adb server on a free loopback port, with its own HOME (its key pair goes there, not in ~)."""

    def __init__(self, home: Path, adb: str = "adb") -> None:
        self.adb = adb
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "HOME": str(home), "ANDROID_ADB_SERVER_PORT": str(self.port)}
        self.env.pop("ANDROID_SERIAL", None)
        self.run("start-server")

    def run(self, *args: str, timeout: float = 30) -> str:
        import subprocess

        done = subprocess.run(
            [self.adb, "-P", str(self.port), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        return done.stdout + done.stderr

    def states(self) -> dict[str, str]:
        lines = self.run("devices").splitlines()[1:]
        return dict(line.split("\t", 1) for line in lines if "\t" in line)

    def connect(self, double: PhoneDouble, state: str = "device", timeout: float = 20) -> None:
        """``adb connect`` the double and wait until the server lists it in ``state`` (adb's own word:
        device, unauthorized, offline). An offline phone keeps ``adb connect`` waiting ten seconds: the
        server has listed it long before, so the client is not waited for."""
        import subprocess

        client = subprocess.Popen(
            [self.adb, "-P", str(self.port), "connect", double.address],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + timeout
            while self.states().get(double.address) != state:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{double.address} never reached {state}: {self.states()}")
                time.sleep(0.05)
        finally:
            if state != "offline":
                client.wait(timeout)
            else:
                client.kill()
                client.wait()

    def disconnect(self, double: PhoneDouble) -> None:
        self.run("disconnect", double.address)

    def kill(self) -> None:
        self.run("kill-server")
