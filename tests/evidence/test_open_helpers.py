"""The small helpers the back-ends share when opening a source."""

from __future__ import annotations

from pathlib import Path

import pytest

from safenet.evidence.directory import regular_file
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import Credential, CredentialKind, NotMyFormat, OpenContext
from safenet.evidence.phone.identity import Acquisition, device_locator


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
