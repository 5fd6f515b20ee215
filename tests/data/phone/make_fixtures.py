"""How the phone fixtures of the validation pack were made (run from the repository root:
``python tests/data/phone/make_fixtures.py``). They are built by the test suite's own format writers, which the
tests prove against independent readers (iphone_backup_decrypt for iTunes backups; zlib, tarfile and cryptography
for Android backups), from small synthetic benign pictures; their MD5s are the validation pack's answer key."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.builders import jpeg  # noqa: E402
from tests.evidence.phone.ab_builder import build_ab  # noqa: E402
from tests.evidence.phone.ios_builder import BackupFile, build_backup  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "validation-pack"  # a test fixture's password, printed in the pack on purpose


def main() -> None:
    ios = [
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", jpeg(9001, (320, 240))),
        BackupFile("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.JPG", jpeg(9002, (320, 240))),
        BackupFile("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "Message/Media/a/b/c.jpg", jpeg(9003)),
    ]
    target = HERE / "ios-backup-encrypted"
    shutil.rmtree(target, ignore_errors=True)
    build_backup(target, ios, password=PASSWORD)
    android = [
        ("shared/0/DCIM/Camera/IMG_20240101_101010.jpg", jpeg(9011, (320, 240))),
        ("shared/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/Sent/IMG-1.jpg", jpeg(9012)),
    ]
    (HERE / "android-encrypted.ab").write_bytes(build_ab(android, password=PASSWORD).data)
    for f in ios:
        print(f"{f.path}: {hashlib.md5(f.data).hexdigest()}")
    for name, data in android:
        print(f"{name}: {hashlib.md5(data).hexdigest()}")


if __name__ == "__main__":
    main()
