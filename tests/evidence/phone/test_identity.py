"""The locator check every phone file source makes before opening a file it listed."""

from __future__ import annotations

import pytest

from safenet.evidence.locator import Layer, LayerKind, Locator
from safenet.evidence.model import EvidenceError, EvidenceWarning
from safenet.evidence.phone.identity import Acquisition, check_name, device_locator, file_layer

DEVICE = device_locator("/cases/phone.ab", "Android backup", Acquisition.ANDROID_BACKUP)
PATH = Layer(LayerKind.PATH, "apps/com.example/f/a.jpg", offset=512)


def test_a_listed_file_gives_its_path_layer() -> None:
    assert file_layer(DEVICE, DEVICE.child(PATH), "phone.ab") == PATH


@pytest.mark.parametrize(
    "locator",
    [
        DEVICE,  # the device itself
        device_locator("/cases/other.ab", "Android backup", Acquisition.ANDROID_BACKUP).child(PATH),  # another source
        device_locator("/cases/phone.ab", "Android backup", Acquisition.FFS_EXTRACTION).child(PATH),  # other method
        DEVICE.child(PATH).child(Layer(LayerKind.PATH, "deeper")),  # too deep
        DEVICE.child(Layer(LayerKind.STREAM, "x")),  # not a path
    ],
)
def test_any_other_locator_is_refused_by_name(locator: Locator) -> None:
    with pytest.raises(EvidenceError, match=r"is not a file of phone\.ab"):
        file_layer(DEVICE, locator, "phone.ab")


def test_a_name_climbing_out_of_the_device_root_is_recorded_and_a_device_path_is_not() -> None:
    warnings: list[EvidenceWarning] = []
    locator = DEVICE.child(PATH)
    check_name("/sdcard/DCIM/a.jpg", "sdcard/DCIM/a.jpg", locator, warnings.append)
    assert warnings == []
    check_name("/sdcard/../../etc/x\x1b[2J", "sdcard/../../etc/x\x1b[2J", locator, warnings.append)
    assert [(w.code, w.locator) for w in warnings] == [("suspicious-member-name", locator)]
    assert "\x1b" not in warnings[0].message and "/sdcard/../../etc/x" in warnings[0].message
