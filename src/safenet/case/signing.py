"""This installation's Ed25519 key, which signs the head of every case's audit log it writes.

The private key lives in the user's Safenet data folder (``$XDG_DATA_HOME/safenet/audit-key.pem``, or
``SAFENET_AUDIT_KEY``), owner-only, and never in a case; the public key is written into each case's log.
Someone holding only the case folder can then not re-chain an edited log without the signature failing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from safenet.installation import data_dir

KEY_ENV = "SAFENET_AUDIT_KEY"


class SigningKeyError(Exception):
    """The installation's signing key cannot be read or created; the message says what to do."""


def default_key_path() -> Path:
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit)
    return data_dir() / "audit-key.pem"


def fingerprint(public_hex: str) -> str:
    """Short, readable name of a public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def verify_signature(public_hex: str, signature_hex: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


class Signer:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_hex = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        self.fingerprint = fingerprint(self.public_hex)

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()

    @classmethod
    def for_installation(cls, path: Path | None = None) -> Signer:
        """Load the installation's key, creating it (owner-only) on first use."""
        path = path or default_key_path()
        try:
            return cls(_load(path)) if path.exists() else cls(_create(path))
        except (OSError, ValueError, TypeError) as exc:
            raise SigningKeyError(
                f"the audit signing key {path} cannot be read or created ({exc.__class__.__name__}); "
                f"check the folder's permissions or set {KEY_ENV} to a writable owner-only path"
            ) from exc


def _load(path: Path) -> Ed25519PrivateKey:
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def _create(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # two first uses at once: one wins
    try:
        os.write(fd, pem)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return key
