"""The small helpers the back-ends share when opening a source and reading it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from safenet.evidence.directory import regular_file
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import Credential, CredentialKind, NotMyFormat, OpenContext
from safenet.evidence.phone.identity import Acquisition, device_locator
from safenet.evidence.streams import PositionedReader


def test_regular_file_accepts_a_file_and_refuses_the_rest(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    (tmp_path / "link").symlink_to(f)
    assert regular_file(f, "no").st_size == 3
    for other in (tmp_path, tmp_path / "link", tmp_path / "missing"):
        with pytest.raises(NotMyFormat, match=r"^not mine$"):
            regular_file(other, "not mine")


def test_passwords_keeps_order_and_ignores_other_credentials() -> None:
    context = OpenContext(
        credentials=(
            Credential(CredentialKind.PASSWORD, "one"),
            Credential(CredentialKind.RECOVERY_PASSWORD, "k"),
            Credential(CredentialKind.PASSWORD, "two"),
        )
    )
    assert context.passwords() == ["one", "two"]
    assert OpenContext().passwords() == []


def test_device_locator_is_source_then_device() -> None:
    locator = device_locator("/x/backup.ab", "Android backup", Acquisition.ANDROID_BACKUP)
    assert [layer.kind for layer in locator.layers] == [LayerKind.SOURCE, LayerKind.DEVICE]
    assert locator.layers[1].value == "Android backup"
    assert locator.layers[1].detail == Acquisition.ANDROID_BACKUP.value


class _Bytes(PositionedReader):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data

    def _end(self) -> int:
        return len(self._data)

    def readinto(self, buffer: Any) -> int:
        chunk = self._data[self._pos : self._pos + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def test_positioned_reader_seeks_like_a_file() -> None:
    raw = _Bytes(b"0123456789")
    assert raw.seek(-3, io.SEEK_END) == 7 and raw.read(10) == b"789"
    assert raw.seek(2) == 2 and raw.seek(3, io.SEEK_CUR) == 5 and raw.tell() == 5
    assert raw.seek(20) == 20 and raw.read(1) == b""  # past the end reads nothing, as a file does
    with pytest.raises(OSError, match="negative seek position"):
        raw.seek(-1)
    with pytest.raises(ValueError, match="bad whence"):
        raw.seek(0, 7)
    buffered = io.BufferedReader(_Bytes(b"abcdef"))
    buffered.seek(-2, io.SEEK_END)
    assert buffered.read() == b"ef"
