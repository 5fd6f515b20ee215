"""The app media table: each path kind a phone or computer names (Android legacy and 11+ shared storage, iOS
backup domains and file systems, Windows and macOS paths) classified by the one table, answer keys below."""

from __future__ import annotations

import re

import pytest

from safenet.analysis.appmedia import RULES, VAULT_APPS, MediaKind, classify, not_decoded

CASES = [
    # WhatsApp, Android before 11 and 11+ (scoped storage), sent and received, WhatsApp Business
    ("/sdcard/WhatsApp/Media/WhatsApp Images/Sent/IMG-20240101-WA0001.jpg", MediaKind.SENT, "WhatsApp"),
    ("/storage/emulated/0/WhatsApp/Media/WhatsApp Video/Sent/VID-20240101-WA0002.mp4", MediaKind.SENT, "WhatsApp"),
    (
        "/storage/emulated/0/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/Sent/IMG-1.jpg",
        MediaKind.SENT,
        "WhatsApp",
    ),
    ("/sdcard/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Video/VID-2.mp4", MediaKind.RECEIVED, "WhatsApp"),
    ("/sdcard/WhatsApp/Media/WhatsApp Images/IMG-20240101-WA0003.jpg", MediaKind.RECEIVED, "WhatsApp"),
    ("/sdcard/WhatsApp/Media/WhatsApp Images/Private/IMG-4.jpg", MediaKind.RECEIVED, "WhatsApp"),
    (
        "/sdcard/Android/media/com.whatsapp.w4b/WhatsApp Business/Media/WhatsApp Business Images/Sent/IMG-5.jpg",
        MediaKind.SENT,
        "WhatsApp Business",
    ),
    ("/sdcard/whatsapp/media/whatsapp images/sent/x.jpg", MediaKind.SENT, "WhatsApp"),  # case-insensitive (FAT)
    # iOS: WhatsApp's media folder does not say sent or received
    (
        "AppDomainGroup-group.net.whatsapp.WhatsApp.shared/Message/Media/447700900000@s.whatsapp.net/a/b/c.jpg",
        MediaKind.CHAT,
        "WhatsApp",
    ),
    # Telegram, Signal, Messenger
    ("/sdcard/Telegram/Telegram Images/123_456.jpg", MediaKind.RECEIVED, "Telegram"),
    (
        "/sdcard/Android/media/org.telegram.messenger/Telegram/Telegram Video/7.mp4",
        MediaKind.RECEIVED,
        "Telegram",
    ),
    (r"C:\Users\sam\Downloads\Telegram Desktop\photo_2024.jpg", MediaKind.RECEIVED, "Telegram Desktop"),
    ("AppDomainGroup-group.ph.telegra.Telegraph/telegram-data/media/x.jpg", MediaKind.CHAT, "Telegram"),
    ("/sdcard/Pictures/Signal/signal-2024-01-01-120000.jpg", MediaKind.CHAT, "Signal"),
    (
        "/Users/sam/Library/Application Support/Signal/attachments.noindex/ab/abcdef",
        MediaKind.CHAT,
        "Signal Desktop",
    ),
    ("/sdcard/Pictures/Messenger/received_1234.jpeg", MediaKind.CHAT, "Messenger"),
    # camera originals
    ("/sdcard/DCIM/Camera/IMG_20240101_120000.jpg", MediaKind.CAMERA, "Camera"),
    ("CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG", MediaKind.CAMERA, "Camera roll"),
    ("/private/var/mobile/Media/DCIM/103APPLE/IMG_3001.HEIC", MediaKind.CAMERA, "Camera roll"),
    (r"D:\Users\sam\Pictures\Camera Roll\WIN_20240101.jpg", MediaKind.CAMERA, "Camera"),
    # photo vaults
    ("/storage/emulated/0/Documents/Vaulty/data/1700000000000.vdata", MediaKind.VAULT, "Vaulty"),
    ("/sdcard/.vaultydata/files/x", MediaKind.VAULT, "Vaulty"),
    ("/sdcard/.galleryvault_DoNotDelete_1600000000/files/abc", MediaKind.VAULT, "Gallery Vault"),
    ("/sdcard/Android/data/com.fourchars.lmpfree/files/x", MediaKind.VAULT, "LockMyPix"),
    ("/sdcard/Android/data/com.kii.safe/files/x", MediaKind.VAULT, "Keepsafe"),
    ("AppDomain-com.enchantedcloud.photovault/Library/x.jpg", MediaKind.VAULT, "Private Photo Vault"),
]


@pytest.mark.parametrize(("path", "kind", "app"), CASES)
def test_classify(path: str, kind: MediaKind, app: str) -> None:
    found = classify(path)
    assert found is not None and (found.kind, found.app) == (kind, app)
    assert (found.decoded is not None) == (kind is MediaKind.VAULT)


@pytest.mark.parametrize(
    "path",
    [
        "/sdcard/Download/x.jpg",
        "/sdcard/Pictures/Screenshots/s.png",
        "/sdcard/DCIM/.thumbnails/1.jpg",
        "/home/sam/Sent/x.jpg",  # a folder named Sent is not a messaging app's
        "/sdcard/WhatsApp/Databases/msgstore.db.crypt14",  # WhatsApp, but not its media
        "/sdcard/My WhatsApp/Media/WhatsApp Images/Sent/y.jpg",  # another app's folder of the same name
        "HomeDomain/Library/DCIM/100APPLE/x.jpg",  # not the camera roll
        "",
    ],
)
def test_other_paths_are_not_app_media(path: str) -> None:
    assert classify(path) is None


def test_no_vault_is_decoded_and_each_is_named_with_its_folders() -> None:
    assert not_decoded() == list(VAULT_APPS)
    for app in VAULT_APPS:
        assert app.folders and app.storage and not app.decoded
        rule = next(r for r in RULES if r.kind is MediaKind.VAULT and r.app == app.name)
        assert "not decoded" in rule.note
        # the app's own Android/data (or iOS container) folder is always recognised
        probe = f"/sdcard/Android/data/{app.package}/files/x" if app.platform == "android" else None
        if probe is not None:
            found = classify(probe)
            assert found is not None and found.app == app.name and found.decoded is False


def test_every_rule_compiles_and_names_a_known_platform() -> None:
    for rule in RULES:
        re.compile(rule.pattern)
        assert rule.platform in {"android", "ios", "computer", "any"} and rule.folder and rule.note
