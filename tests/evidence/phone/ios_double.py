"""A test double of the DEVICE side of a USB-connected iPhone: usbmuxd, lockdownd and AFC, at the wire level.

What is real and what is the double:
- real: pymobiledevice3 (its usbmux client, lockdown client with its TLS session, AFC client), Python's ssl
  and sockets, and Safenet above them;
- the double: usbmuxd's plist protocol on a unix socket (``USBMUXD_SOCKET_ADDRESS`` points pymobiledevice3 at
  it: the libusbmuxd variable it honours), and, behind its ``Connect``, the device's lockdownd on port 62078
  (length-prefixed XML plists; QueryType, GetValue, StartSession switching the connection to TLS with a device
  certificate the test generated, Pair, StartService, StopSession) and AFC on the port StartService names
  (40-byte ``CFA6LPAA`` packets: READ_DIR, GET_FILE_INFO, FILE_OPEN, READ, FILE_SEEK, FILE_CLOSE), serving a
  folder as the device's ``/var/mobile/Media``.

The pair record usbmuxd hands out (``ReadPairRecord``) is the host half of a pairing made by :func:`make_pairing`
with ``cryptography``: a root CA, a host certificate and key, a device certificate and key (the device side's
TLS identity). States: ``trusted=False`` (no pair record; ``Pair`` answers PairingDialogResponsePending, as a
phone showing its Trust prompt does, until ``accept_pair_after`` requests when set: then it trusts the host that
asked, and usbmuxd keeps the record the host saves), ``locked=True`` (StartService answers PasswordProtected),
``drop_after`` bytes of file data (then the device is unplugged: every connection is cut and usbmuxd stops
listing it until :meth:`IosDouble.attach`). Every request is logged in ``requests`` so tests can prove that
nothing but reads was asked of the device.

Full local backups (``--ios-backup``): lockdownd also answers the ``com.apple.mobile.backup`` domain's
``WillEncrypt`` and starts ``com.apple.mobilebackup2`` (DeviceLink: the version exchange, ``Hello``, ``Backup``
answered with ``DLMessageCreateDirectory`` and ``DLMessageUploadFiles`` streaming a backup that
``ios_builder`` builds of ``DeviceState.backup_files``, encrypted with the backup password the device holds;
``ChangePassword`` turning that password on, changing it or off, the old one checked), and the services
pymobiledevice3's backup client opens beside it: the notification proxy (posts and observations, no answer),
installation proxy (``Browse``: no user apps), SpringBoard services (opened, not asked) and, over AFC, the sync
lock file opened read-write and locked. ``refuse_removal`` makes the device refuse to turn encryption off;
``drop_after_upload`` unplugs it after that many bytes of backup data.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import plistlib
import signal
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.evidence.phone.ios_builder import BackupFile, build_backup

# The iPhone the phone tests pretend to be: its UDID, lockdown values, and the label its DEVICE layer shows.
UDID = "00008030-001A2B3C4D5E6F70"
VALUES = {
    "ProductType": "iPhone12,1",
    "ProductVersion": "17.5.1",
    "BuildVersion": "21F90",
    "SerialNumber": "F2LLIVESERIAL",
    "DeviceName": "Test iPhone",
    "DeviceClass": "iPhone",
    "InternationalMobileEquipmentIdentity": "356789012345670",
}
LABEL = "Apple iPhone12,1 F2LLIVESERIAL"

LOCKDOWN_PORT = 62078
AFC_PORT = 49321
NOTIFY_PORT, BACKUP_PORT, INSTALL_PORT, SPRINGBOARD_PORT = 49322, 49323, 49324, 49325
SERVICES = {
    "com.apple.afc": AFC_PORT,
    "com.apple.mobile.notification_proxy": NOTIFY_PORT,
    "com.apple.mobilebackup2": BACKUP_PORT,
    "com.apple.mobile.installation_proxy": INSTALL_PORT,
    "com.apple.springboardservices": SPRINGBOARD_PORT,
}
LOCK_FILE = "/com.apple.itunes.lock_sync"  # the one file opened read-write: the backup's sync lock
MB_WRONG_PASSWORD = 207  # MBErrorDomain's "incorrect password"
AFC_MAGIC = b"CFA6LPAA"
AFC_HEADER = struct.Struct("<8sQQQQ")
# AFC opcodes and status codes (the values pymobiledevice3.services.afc names)
STATUS, DATA, READ_DIR, GET_FILE_INFO, FILE_OPEN, FILE_OPEN_RES, READ, FILE_SEEK, FILE_CLOSE = (
    0x1,
    0x2,
    0x3,
    0xA,
    0xD,
    0xE,
    0xF,
    0x11,
    0x14,
)
FILE_LOCK = 0x1B
READ_OPS = {READ_DIR: "READ_DIR", GET_FILE_INFO: "GET_FILE_INFO", FILE_OPEN: "FILE_OPEN", READ: "READ"}
READ_OPS |= {FILE_SEEK: "FILE_SEEK", FILE_CLOSE: "FILE_CLOSE", FILE_LOCK: "FILE_LOCK"}
AFC_SUCCESS, AFC_OBJECT_NOT_FOUND, AFC_PERM_DENIED, AFC_OP_NOT_SUPPORTED = 0, 8, 10, 15
AFC_RDONLY, AFC_RW = 1, 2


@dataclass(frozen=True)
class Pairing:
    """Both halves of a pairing: the record the host keeps, and the device's TLS identity (PEM files)."""

    host_record: dict[str, Any]
    device_cert: Path
    device_key: Path
    device_public_key: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key: rsa.RSAPrivateKey, issuer: str, signer: rsa.RSAPrivateKey, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def make_pairing(folder: Path, host_id: str = "5A0E6B1C-0D2E-4F30-9A41-B52C6D7E8F90") -> Pairing:
    """A fresh root CA, host and device keys and certificates, as a pairing would leave them."""
    root_key, host_key, device_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3))
    root = _cert("Root Certification Authority", root_key, "Root Certification Authority", root_key, True)
    host = _cert("Host", host_key, "Root Certification Authority", root_key, False)
    device = _cert("Device", device_key, "Root Certification Authority", root_key, False)
    pem = serialization.Encoding.PEM
    record = {
        "HostID": host_id,
        "SystemBUID": "7F1C2D3E-4B5A-6978-8796-A5B4C3D2E1F0",
        "HostCertificate": host.public_bytes(pem),
        "HostPrivateKey": _pem_key(host_key),
        "RootCertificate": root.public_bytes(pem),
        "RootPrivateKey": _pem_key(root_key),
        "DeviceCertificate": device.public_bytes(pem),
        "WiFiMACAddress": "02:00:00:00:00:01",
        "EscrowBag": b"escrow bag of the test",  # sent with StartService of mobilebackup2
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "device.crt").write_bytes(device.public_bytes(pem))
    (folder / "device.key").write_bytes(_pem_key(device_key))
    public = device_key.public_key().public_bytes(pem, serialization.PublicFormat.PKCS1)
    return Pairing(record, folder / "device.crt", folder / "device.key", public)


@dataclass
class DeviceState:
    udid: str
    values: dict[str, Any]
    media: Path  # served as /var/mobile/Media
    trusted: bool = True
    locked: bool = False
    drop_after: int | None = None  # unplug after this many bytes of file data were served
    accept_pair_after: int | None = None  # untrusted: the owner taps Trust after this many Pair requests
    attached: bool = True
    served: int = 0
    backup_files: list[BackupFile] = field(default_factory=list)  # what a full backup holds
    backup_password: str | None = None  # the device encrypts its backups with this (WillEncrypt)
    refuse_removal: bool = False  # ChangePassword turning encryption off is refused
    refuse_setting: bool = False  # ChangePassword turning encryption on is refused (no passcode entered)
    drop_after_upload: int | None = None  # unplug after this many bytes of backup data were uploaded
    uploaded: int = 0
    backups: int = 0  # full backups begun
    hostile_upload: str | None = None  # a file name the backup agent sends first, as a hostile device would
    interrupt_host: bool = False  # the examiner presses Ctrl-C (SIGINT to this process) as the upload begins
    password_changes: list[tuple[str | None, str | None]] = field(default_factory=list)  # (old, new) accepted
    requests: list[str] = field(default_factory=list)  # "lockdown:GetValue", "afc:READ_DIR /DCIM" ...


class _Closed(Exception):
    pass


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise _Closed
        data += chunk
    return data


def _recv_plist(sock: socket.socket) -> Any:
    (size,) = struct.unpack(">I", _recv_exact(sock, 4))
    return plistlib.loads(_recv_exact(sock, size))


def _send_plist(sock: socket.socket, value: Any) -> None:
    body = plistlib.dumps(value)
    sock.sendall(struct.pack(">I", len(body)) + body)


class IosDouble:
    """usbmuxd + one device. ``with IosDouble(...) as double:`` serves at ``double.socket_path``."""

    def __init__(self, socket_path: Path, pairing: Pairing, state: DeviceState) -> None:
        self.socket_path, self.pairing, self.state = socket_path, pairing, state
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._saved: dict[str, Any] | None = None  # a pair record the host gave usbmuxd (SavePairRecord)
        self._hosts = {pairing.host_record["HostID"]}  # hosts the device trusts
        self._pair_requests = 0
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(pairing.device_cert, pairing.device_key)
        double = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                double._serve_mux(self.request)

        self._server = socketserver.ThreadingUnixStreamServer(str(socket_path), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> IosDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.detach()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)

    @property
    def requests(self) -> list[str]:
        return self.state.requests

    def detach(self) -> None:
        """Unplug the device: cut every connection, and usbmuxd stops listing it."""
        with self._lock:
            self.state.attached = False
            live, self._live = self._live, set()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def attach(self) -> None:
        with self._lock:
            self.state.attached = True
            self.state.drop_after = None

    # --- usbmuxd ------------------------------------------------------------------------------------------

    def _serve_mux(self, sock: socket.socket) -> None:
        with self._lock:
            self._live.add(sock)
        try:
            while True:
                length, _version, _message, tag = struct.unpack("<IIII", _recv_exact(sock, 16))
                request = plistlib.loads(_recv_exact(sock, length - 16))
                kind = request.get("MessageType")
                self.state.requests.append(f"usbmuxd:{kind}")
                if kind == "Connect":
                    port = socket.ntohs(request["PortNumber"])
                    served = {LOCKDOWN_PORT: self._serve_lockdown, AFC_PORT: self._serve_afc}
                    served |= {NOTIFY_PORT: self._serve_notify, BACKUP_PORT: self._serve_backup}
                    served |= {INSTALL_PORT: self._serve_install, SPRINGBOARD_PORT: self._serve_springboard}
                    if not self.state.attached or port not in served:
                        self._mux_reply(sock, tag, {"MessageType": "Result", "Number": 3})
                        continue
                    self._mux_reply(sock, tag, {"MessageType": "Result", "Number": 0})
                    served[port](sock)
                    return
                self._mux_reply(sock, tag, self._mux_answer(kind, request))
        except (_Closed, OSError, ssl.SSLError):
            pass
        finally:
            with self._lock:
                self._live.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def _mux_answer(self, kind: str, request: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        if kind == "ReadBUID":
            return {"BUID": self.pairing.host_record["SystemBUID"]}
        if kind == "ListDevices":
            attached = [
                {
                    "MessageType": "Attached",
                    "DeviceID": 7,
                    "Properties": {"SerialNumber": state.udid, "ConnectionType": "USB", "DeviceID": 7},
                }
            ]
            return {"DeviceList": attached if state.attached else []}
        if kind == "ReadPairRecord":
            if state.trusted and request.get("PairRecordID") == state.udid:
                return {"PairRecordData": plistlib.dumps(self._saved or self.pairing.host_record)}
            return {"MessageType": "Result", "Number": 2}
        if kind == "SavePairRecord" and request.get("PairRecordID") == state.udid:
            self._saved = plistlib.loads(request["PairRecordData"])
            return {"MessageType": "Result", "Number": 0}
        return {"MessageType": "Result", "Number": 1}  # BADCOMMAND: nothing else is expected of usbmuxd here

    @staticmethod
    def _mux_reply(sock: socket.socket, tag: int, body: dict[str, Any]) -> None:
        payload = plistlib.dumps(body)
        sock.sendall(struct.pack("<IIII", 16 + len(payload), 1, 8, tag) + payload)

    # --- lockdownd ----------------------------------------------------------------------------------------

    def _serve_lockdown(self, sock: socket.socket) -> None:
        conn: socket.socket = sock
        in_session = False
        while True:
            (size,) = struct.unpack(">I", _recv_exact(conn, 4))
            request = plistlib.loads(_recv_exact(conn, size))
            name = request.get("Request", "")
            self.state.requests.append(f"lockdown:{name}")
            reply, start_tls = self._lockdown_answer(name, request, in_session)
            body = plistlib.dumps({"Request": name, **reply})
            conn.sendall(struct.pack(">I", len(body)) + body)
            if start_tls:
                conn = self._tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._live.add(conn)
                in_session = True

    def _lockdown_answer(self, name: str, request: dict[str, Any], in_session: bool) -> tuple[dict[str, Any], bool]:
        state = self.state
        if name == "QueryType":
            return {"Type": "com.apple.mobile.lockdown"}, False
        if name == "GetValue":
            # Before a session a device tells little about itself; after one, everything asked for here.
            public = {k: state.values[k] for k in ("ProductType", "ProductVersion", "DeviceClass") if k in state.values}
            public |= {
                "UniqueDeviceID": state.udid,
                "DevicePublicKey": self.pairing.device_public_key,
                "WiFiAddress": self.pairing.host_record["WiFiMACAddress"],  # a pair record names it
            }
            values = {**state.values, **public} if in_session else public
            if request.get("Domain") == "com.apple.mobile.backup":
                values = {"WillEncrypt": state.backup_password is not None} if in_session else {}
            key = request.get("Key")
            if key is None:
                return {"Value": values}, False
            if key in values:
                return {"Key": key, "Value": values[key]}, False
            return {"Key": key, "Error": "MissingValue"}, False
        if name == "StartSession":
            if not state.trusted or request.get("HostID") not in self._hosts:
                return {"Error": "InvalidHostID"}, False
            return {"SessionID": "5E5510N-0001", "EnableSessionSSL": True}, True
        if name == "Pair":
            self._pair_requests += 1
            if state.accept_pair_after is None or self._pair_requests <= state.accept_pair_after:
                return {"Error": "PairingDialogResponsePending"}, False
            self._hosts.add(request["PairRecord"]["HostID"])  # the owner tapped Trust
            state.trusted = True
            return {"EscrowBag": b"escrow bag of the test"}, False
        if name == "StartService":
            if not in_session:
                return {"Error": "InvalidHostID"}, False
            if state.locked:
                return {"Error": "PasswordProtected"}, False
            service = request.get("Service")
            if service not in SERVICES:
                return {"Error": "InvalidService"}, False
            if service == "com.apple.mobilebackup2" and request.get("EscrowBag") != b"escrow bag of the test":
                return {"Error": "EscrowLocked"}, False
            return {"Service": service, "Port": SERVICES[service], "EnableServiceSSL": False}, False
        if name == "StopSession":
            return {"Result": "Success"}, False
        return {"Error": "InvalidRequest"}, False

    # --- AFC ----------------------------------------------------------------------------------------------

    def _path(self, raw: bytes) -> Path | None:
        """A device path inside the served media folder (anything climbing out of it does not exist)."""
        text = raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        parts = [p for p in text.split("/") if p not in ("", ".")]
        if ".." in parts:
            return None
        return self.state.media.joinpath(*parts)

    def _serve_afc(self, sock: socket.socket) -> None:
        handles: dict[int, Any] = {}
        try:
            while True:
                magic, entire, _this, number, op = AFC_HEADER.unpack(_recv_exact(sock, AFC_HEADER.size))
                assert magic == AFC_MAGIC, magic
                payload = _recv_exact(sock, entire - AFC_HEADER.size)
                name = READ_OPS.get(op, f"op-{op:#x}")
                detail = payload[8:] if op == FILE_OPEN else payload if op in (READ_DIR, GET_FILE_INFO) else b""
                shown = detail.rstrip(b"\0").decode(errors="replace")
                self.state.requests.append(f"afc:{name} {shown}".rstrip())
                answer = self._afc_answer(op, payload, handles)
                if answer is None:  # the device was unplugged mid-answer
                    return
                reply_op, data = answer
                header = AFC_HEADER.pack(
                    AFC_MAGIC, AFC_HEADER.size + len(data), AFC_HEADER.size + len(data), number, reply_op
                )
                sock.sendall(header + data)
        finally:
            for stream in handles.values():
                stream.close()

    @staticmethod
    def _status(code: int) -> tuple[int, bytes]:
        return STATUS, struct.pack("<Q", code)

    def _afc_answer(self, op: int, payload: bytes, handles: dict[int, Any]) -> tuple[int, bytes] | None:
        if op == READ_DIR:
            path = self._path(payload)
            if path is None or not path.is_dir():
                return self._status(AFC_OBJECT_NOT_FOUND)
            names = [".", "..", *sorted(p.name for p in path.iterdir())]
            return DATA, b"".join(n.encode("utf-8", "surrogateescape") + b"\0" for n in names)
        if op == GET_FILE_INFO:
            path = self._path(payload)
            if path is None or not (path.exists() or path.is_symlink()):
                return self._status(AFC_OBJECT_NOT_FOUND)
            if path.name.startswith("bad-info"):  # a malformed answer: a key without its value
                return DATA, b"st_size\0"
            st = path.lstat()
            kind = "S_IFLNK" if path.is_symlink() else "S_IFDIR" if path.is_dir() else "S_IFREG"
            info = {
                "st_size": st.st_size,
                "st_blocks": (st.st_size + 511) // 512,
                "st_nlink": 1,
                "st_ifmt": kind,
                "st_mtime": st.st_mtime_ns,
                "st_birthtime": st.st_mtime_ns - 3_600_000_000_000,  # an hour before: tells the two apart
            }
            return DATA, b"".join(f"{k}\0{v}\0".encode() for k, v in info.items())
        if op == FILE_OPEN:
            (mode,) = struct.unpack("<Q", payload[:8])
            path = self._path(payload[8:])
            if mode == AFC_RW and payload[8:].rstrip(b"\0") == LOCK_FILE.encode():  # the sync lock, never written
                handle = max(handles, default=0) + 1
                handles[handle] = io.BytesIO()
                return FILE_OPEN_RES, struct.pack("<Q", handle)
            if mode != AFC_RDONLY:
                return self._status(AFC_PERM_DENIED)
            if path is None or not path.is_file():
                return self._status(AFC_OBJECT_NOT_FOUND)
            handle = max(handles, default=0) + 1  # never a number still open (handles close out of order)
            handles[handle] = path.open("rb")
            return FILE_OPEN_RES, struct.pack("<Q", handle)
        if op == READ:
            handle, size = struct.unpack("<QQ", payload[:16])
            data = handles[handle].read(size)
            with self._lock:
                state = self.state
                state.served += len(data)
                unplug = state.drop_after is not None and state.served > state.drop_after
            if unplug:
                self.detach()
                return None
            return DATA, data
        if op == FILE_SEEK:
            handle, whence, offset = struct.unpack("<QQq", payload[:24])
            handles[handle].seek(offset, whence)
            return self._status(AFC_SUCCESS)
        if op == FILE_CLOSE:
            (handle,) = struct.unpack("<Q", payload[:8])
            handles.pop(handle).close()
            return self._status(AFC_SUCCESS)
        if op == FILE_LOCK:
            (handle,) = struct.unpack("<Q", payload[:8])
            return self._status(AFC_SUCCESS if handle in handles else AFC_OBJECT_NOT_FOUND)
        return self._status(AFC_OP_NOT_SUPPORTED)

    # --- the services a backup opens beside mobilebackup2 ------------------------------------------------

    def _serve_notify(self, sock: socket.socket) -> None:
        while True:  # posts and observations want no answer; nothing is ever relayed back
            request = _recv_plist(sock)
            self.state.requests.append(f"notify:{request.get('Command')} {request.get('Name', '')}".rstrip())

    def _serve_install(self, sock: socket.socket) -> None:
        while True:
            request = _recv_plist(sock)
            self.state.requests.append(f"install:{request.get('Command')}")
            _send_plist(sock, {"Status": "Complete", "CurrentList": []})  # no user apps

    def _serve_springboard(self, sock: socket.socket) -> None:
        while True:
            request = _recv_plist(sock)
            self.state.requests.append(f"springboard:{request.get('command')}")
            _send_plist(sock, {})

    # --- mobilebackup2 (DeviceLink) ----------------------------------------------------------------------

    def _serve_backup(self, sock: socket.socket) -> None:
        _send_plist(sock, ["DLMessageVersionExchange", 300, 0])
        reply = _recv_plist(sock)
        assert reply[:2] == ["DLMessageVersionExchange", "DLVersionsOk"], reply
        _send_plist(sock, ["DLMessageDeviceReady"])
        while True:
            message = _recv_plist(sock)
            if message[0] == "DLMessageDisconnect":
                self.state.requests.append("backup:Disconnect")
                return
            assert message[0] == "DLMessageProcessMessage", message
            body = message[1]
            name = body.get("MessageName")
            self.state.requests.append(f"backup:{name}")
            if name == "Hello":
                assert 2.1 in body["SupportedProtocolVersions"]
                _send_plist(sock, ["DLMessageProcessMessage", {"ErrorCode": 0, "ProtocolVersion": 2.1}])
            elif name == "ChangePassword":
                _send_plist(sock, ["DLMessageProcessMessage", self._change_password(body)])
            elif name == "Backup":
                if not self._upload_backup(sock, body["TargetIdentifier"]):
                    return
                _send_plist(sock, ["DLMessageProcessMessage", {"ErrorCode": 0}])
            else:
                _send_plist(sock, ["DLMessageProcessMessage", {"ErrorCode": 1, "ErrorDescription": "unexpected"}])

    def _change_password(self, body: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        old, new = body.get("OldPassword"), body.get("NewPassword")
        if state.backup_password is not None and old != state.backup_password:
            return {"ErrorCode": MB_WRONG_PASSWORD, "ErrorDescription": "Incorrect password"}
        if state.backup_password is None and old is not None:
            return {"ErrorCode": 1, "ErrorDescription": "Backup encryption is not on"}
        if (new is None and state.refuse_removal) or (old is None and state.refuse_setting):
            return {"ErrorCode": 1, "ErrorDescription": "The passcode was not entered on the device"}
        state.backup_password = new
        state.password_changes.append((old, new))
        return {"ErrorCode": 0}

    def _upload_backup(self, sock: socket.socket, udid: str) -> bool:
        """Build the device's backup as it stands (encrypted with its password) and upload it file by file, as
        a device's backup agent does; False when the device was unplugged part way or the host gave up."""
        self.state.backups += 1
        with tempfile.TemporaryDirectory(prefix="sn-backup-") as scratch:
            built = build_backup(Path(scratch) / "b", self.state.backup_files, self.state.backup_password)
            files = sorted(p for p in built.root.rglob("*") if p.is_file() and p.name != "Info.plist")
            folders = sorted({p.parent.relative_to(built.root).as_posix() for p in files} - {"."})
            for folder in folders:
                _send_plist(sock, ["DLMessageCreateDirectory", f"{udid}/{folder}", 0.0, {}])
                if _recv_plist(sock)[0] != "DLMessageStatusResponse":
                    return False  # the host gave up (DLMessageDisconnect)
            if self.state.interrupt_host:  # Ctrl-C, then wait for the host to give up the session
                os.kill(os.getpid(), signal.SIGINT)
                with contextlib.suppress(_Closed, OSError):
                    _recv_plist(sock)
                return False
            _send_plist(sock, ["DLMessageUploadFiles", {}, 10.0])
            named = [(f"{udid}/{path.relative_to(built.root).as_posix()}", path) for path in files]
            if self.state.hostile_upload is not None:
                named.insert(0, (self.state.hostile_upload, files[0]))
            for text, path in named:
                name = text.encode()
                sock.sendall(struct.pack(">I", len(name)) + name + struct.pack(">I", len(name)) + name)
                data = path.read_bytes()
                for start in range(0, len(data), 16 << 10):
                    chunk = data[start : start + (16 << 10)]
                    sock.sendall(struct.pack(">IB", len(chunk) + 1, 0xC) + chunk)
                    with self._lock:
                        self.state.uploaded += len(chunk)
                        limit = self.state.drop_after_upload
                    if limit is not None and self.state.uploaded > limit:
                        self.detach()
                        return False
                sock.sendall(struct.pack(">IB", 1, 0))
            sock.sendall(struct.pack(">I", 0))
            if _recv_plist(sock)[0] != "DLMessageStatusResponse":
                return False  # the host refused a file and gave up (DLMessageDisconnect)
        return True
