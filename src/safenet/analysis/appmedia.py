"""App media folders on phones and computers: which app a picture's folder belongs to, and what the folder says
about how the picture got there (sent, received, taken by the camera, hidden in a vault app).

Why it matters for a charge: a picture in a messaging app's "Sent" folder is evidence of distribution; a camera
original (with the phone's own EXIF make and model) may be production; received media are possession. Only the
path is read: the table below is the single source of truth, and ``classify`` is a pure function of a path as
the device or the file system names it (an Android path such as ``/sdcard/DCIM/Camera/x.jpg`` or
``/storage/emulated/0/Android/media/com.whatsapp/WhatsApp/Media/...``, an iOS backup path
``Domain/relative/path``, an iOS file-system path ``/private/var/mobile/Media/DCIM/...``, or a computer's path
with either slash).

Where a folder does not say whether its media were sent or received (WhatsApp on iOS keeps both under
``Message/Media``; the direction is in ChatStorage.sqlite, which Safenet does not read), the kind is ``chat``,
never a guess.

Photo-vault apps: each is named with its folders and whether its storage format is publicly documented.
Safenet decodes none of them (``VaultApp.decoded`` is False for all): a vault whose files are stored plain is
read like any folder, and an obscured or encrypted one is listed as not decoded in the SFR1's limitations.
Folder names are those the vendors or published third-party examinations describe; an app may let its user
move the vault, so a vault elsewhere is not recognised by its path.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class MediaKind(StrEnum):
    """What a folder says about its media. Stored in reports; never rename."""

    SENT = "sent"  # a messaging app's sent-media folder: distribution
    RECEIVED = "received"  # media a messaging app saved from chats (received or downloaded)
    CHAT = "chat"  # a messaging app's media whose folder does not say sent or received
    CAMERA = "camera"  # camera originals (the camera app's folder)
    VAULT = "vault"  # a photo-vault app's storage


@dataclass(frozen=True, slots=True)
class AppMedia:
    """How one path is classified: its kind, the app, the folder rule that matched, and what it means."""

    kind: MediaKind
    app: str
    folder: str  # the folder as the table names it
    note: str = ""
    decoded: bool | None = None  # vaults only: whether Safenet decodes the app's storage (never, today)


@dataclass(frozen=True, slots=True)
class VaultApp:
    """A photo-vault app: its name, where it keeps media, and what is known of its storage format."""

    name: str
    platform: str  # android | ios
    package: str
    folders: tuple[str, ...]  # as the table shows them
    storage: str  # what the files are, as publicly described
    documented: bool  # the storage format is publicly described (by the vendor or published research)
    decoded: bool = False  # Safenet decodes none: see the module docstring


@dataclass(frozen=True, slots=True)
class FolderRule:
    """One row of the table: a path pattern (searched anywhere in the path, case-insensitively)."""

    app: str
    kind: MediaKind
    platform: str  # android | ios | computer | any
    folder: str  # the folder as people read it
    pattern: str  # a regular expression over the path with "/" separators
    note: str = ""


_WA_MEDIA = r"WhatsApp (?:Images|Video|Animated Gifs|Documents)"
_WAB_MEDIA = r"WhatsApp Business (?:Images|Video|Animated Gifs|Documents)"
_TG_MEDIA = r"Telegram (?:Images|Video|Documents)"
_WA_RECEIVED = "media WhatsApp saved from chats; the ones the user sent are in the Sent folder beside them"

#: Photo-vault apps whose media folders are known. None is decoded (see the module docstring).
VAULT_APPS: tuple[VaultApp, ...] = (
    VaultApp(
        "Vaulty",
        "android",
        "com.theronrogers.vaultyfree",
        ("Documents/Vaulty", ".vaultydata (older versions)", "Android/data/com.theronrogers.vaultyfree"),
        "the picture obscured by bytes inserted before it; index in the app's private media.db",
        documented=True,
    ),
    VaultApp(
        "Gallery Vault",
        "android",
        "com.thinkyeah.galleryvault",
        (".galleryvault_DoNotDelete_*", "Android/data/com.thinkyeah.galleryvault"),
        "encrypted; the format is not publicly specified",
        documented=False,
    ),
    VaultApp(
        "LockMyPix",
        "android",
        "com.fourchars.lmpfree",
        ("Android/data/com.fourchars.lmpfree",),
        "encrypted (the vendor states AES-256 in CTR mode, key from the user's password); layout not specified",
        documented=False,
    ),
    VaultApp(
        "Keepsafe",
        "android",
        "com.kii.safe",
        ("Android/data/com.kii.safe",),
        "encrypted; the format is not publicly specified",
        documented=False,
    ),
    VaultApp(
        "Private Photo Vault",
        "ios",
        "com.enchantedcloud.photovault",
        ("AppDomain-com.enchantedcloud.photovault",),
        "the app's own container; the format is not publicly specified",
        documented=False,
    ),
)

_VAULT_PATTERNS = {
    "Vaulty": r"(?:^|/)(?:Documents/Vaulty|\.vaultydata)/",
    "Gallery Vault": r"(?:^|/)\.galleryvault_DoNotDelete_[^/]*/",
    "Private Photo Vault": r"(?:^|/)AppDomain-com\.enchantedcloud\.photovault/",
}


def _vault_rule(app: VaultApp) -> FolderRule:
    package = re.escape(app.package)
    own = _VAULT_PATTERNS.get(app.name)
    pattern = rf"(?:^|/)Android/(?:data|media)/{package}/" + (f"|{own}" if own else "")
    state = "decoded" if app.decoded else "not decoded"
    return FolderRule(
        app.name, MediaKind.VAULT, app.platform, "; ".join(app.folders), pattern, f"{app.storage} ({state})"
    )


#: The table, most specific rules first (a Sent folder before its parent's received rule).
RULES: tuple[FolderRule, ...] = (
    FolderRule(
        "WhatsApp",
        MediaKind.SENT,
        "android",
        "WhatsApp/Media/WhatsApp Images|Video|Animated Gifs|Documents/Sent (also under Android/media/com.whatsapp/)",
        rf"(?:^|/)WhatsApp/Media/{_WA_MEDIA}/Sent/",
        "media the user sent from WhatsApp",
    ),
    FolderRule(
        "WhatsApp Business",
        MediaKind.SENT,
        "android",
        "WhatsApp Business/Media/WhatsApp Business Images|Video|.../Sent (also under Android/media/com.whatsapp.w4b/)",
        rf"(?:^|/)WhatsApp Business/Media/{_WAB_MEDIA}/Sent/",
        "media the user sent from WhatsApp Business",
    ),
    FolderRule(
        "WhatsApp",
        MediaKind.RECEIVED,
        "android",
        "WhatsApp/Media/WhatsApp Images|Video|Animated Gifs|Documents (and their Private folders)",
        rf"(?:^|/)WhatsApp/Media/{_WA_MEDIA}/",
        _WA_RECEIVED,
    ),
    FolderRule(
        "WhatsApp Business",
        MediaKind.RECEIVED,
        "android",
        "WhatsApp Business/Media/WhatsApp Business Images|Video|Animated Gifs|Documents",
        rf"(?:^|/)WhatsApp Business/Media/{_WAB_MEDIA}/",
        _WA_RECEIVED,
    ),
    FolderRule(
        "WhatsApp",
        MediaKind.CHAT,
        "ios",
        "AppDomainGroup-group.net.whatsapp.WhatsApp.shared/Message/Media",
        r"(?:^|/)AppDomainGroup-group\.net\.whatsapp\.WhatsApp(?:B)?\.shared/Message/Media/",
        "sent and received media together; the direction is in ChatStorage.sqlite (not read)",
    ),
    FolderRule(
        "Telegram",
        MediaKind.RECEIVED,
        "android",
        "Telegram/Telegram Images|Video|Documents (also under Android/media/org.telegram.messenger/)",
        rf"(?:^|/)Telegram/{_TG_MEDIA}/",
        "media Telegram saved from chats (downloads); Telegram keeps no sent folder here",
    ),
    FolderRule(
        "Telegram Desktop",
        MediaKind.RECEIVED,
        "computer",
        "Downloads/Telegram Desktop",
        r"(?:^|/)Downloads/Telegram Desktop/",
        "files Telegram Desktop downloaded from chats",
    ),
    FolderRule(
        "Telegram",
        MediaKind.CHAT,
        "ios",
        "AppDomainGroup-group.ph.telegra.Telegraph",
        r"(?:^|/)AppDomainGroup-group\.ph\.telegra\.Telegraph/",
        "Telegram's shared container; the direction is in its database (not read)",
    ),
    FolderRule(
        "Signal",
        MediaKind.CHAT,
        "android",
        "Pictures/Signal",
        r"(?:^|/)Pictures/Signal/",
        "attachments the user saved from Signal chats (Signal's own attachments stay encrypted, not decoded)",
    ),
    FolderRule(
        "Signal Desktop",
        MediaKind.CHAT,
        "computer",
        "Signal/attachments.noindex",
        r"(?:^|/)Signal/attachments\.noindex/",
        "Signal Desktop's attachments (recent versions encrypt them: not decoded)",
    ),
    FolderRule(
        "Messenger",
        MediaKind.CHAT,
        "android",
        "Pictures/Messenger",
        r"(?:^|/)Pictures/Messenger/",
        "pictures the user saved from Messenger chats",
    ),
    FolderRule(
        "Messenger",
        MediaKind.CHAT,
        "ios",
        "AppDomain-com.facebook.Messenger",
        r"(?:^|/)AppDomain-com\.facebook\.Messenger/",
        "Messenger's container; the direction is in its database (not read)",
    ),
    FolderRule(
        "Camera",
        MediaKind.CAMERA,
        "android",
        "DCIM/Camera",
        r"(?:^|/)DCIM/Camera/",
        "the camera app's originals",
    ),
    FolderRule(
        "Camera roll",
        MediaKind.CAMERA,
        "ios",
        "CameraRollDomain/Media/DCIM/100APPLE (101APPLE, ...); Media/DCIM/NNNAPPLE on a file system",
        r"(?:^|/)(?:CameraRollDomain/)?Media/DCIM/\d{3}APPLE/|^/?DCIM/\d{3}APPLE/",
        "the camera's originals and pictures saved from other apps; the EXIF camera tells them apart",
    ),
    FolderRule(
        "Camera",
        MediaKind.CAMERA,
        "computer",
        "Pictures/Camera Roll",
        r"(?:^|/)Pictures/Camera Roll/",
        "the Windows Camera app's pictures",
    ),
    *(_vault_rule(app) for app in VAULT_APPS),
)

_COMPILED = tuple((rule, re.compile(rule.pattern, re.IGNORECASE)) for rule in RULES)
_VAULTS = {app.name: app for app in VAULT_APPS}


def classify(path: str) -> AppMedia | None:
    """The app media folder ``path`` lies in (the first rule of ``RULES`` that matches), or None."""
    normal = path.replace("\\", "/")
    for rule, pattern in _COMPILED:
        if pattern.search(normal):
            vault = _VAULTS.get(rule.app) if rule.kind is MediaKind.VAULT else None
            return AppMedia(rule.kind, rule.app, rule.folder, rule.note, vault.decoded if vault else None)
    return None


#: Sent-mail folders as mail clients name them (Thunderbird, Outlook, Apple Mail, Gmail over IMAP) in the
#: languages most often met; compared with a mailbox's last name, case-insensitively.
SENT_MAIL_FOLDERS: tuple[str, ...] = (
    "Sent",
    "Sent Items",
    "Sent Mail",  # Gmail over IMAP: [Gmail]/Sent Mail
    "Sent Messages",  # Apple Mail
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "Éléments envoyés",
    "Messages envoyés",
    "Envoyés",
    "Elementos enviados",
    "Enviados",
    "Posta inviata",
    "Elementi inviati",
    "Verzonden items",
    "Verzonden",
    "Skickat",
    "Skickade objekt",
    "Sendt",
    "Sendte elementer",
    "Wysłane",
    "Отправленные",
)
MAIL_APP = "e-mail"
_SENT_MAIL = frozenset(unicodedata.normalize("NFC", name).casefold() for name in SENT_MAIL_FOLDERS)
_MAIL_SUFFIX = re.compile(r"(?:\.(?:mbox|sbd|mbx)|-\d+)$", re.IGNORECASE)  # Apple's "Sent.mbox", Thunderbird's "Sent-1"


# Apple Mail keeps a message's attachments as files beside it (a ".partial.emlx" message, the files under
# "Attachments/<message>/<part>/"): in a sent-mail folder they are sent items too.
_APPLE_SENT_ATTACHMENT = re.compile(
    rf"(?:^|/)(?:{'|'.join(re.escape(unicodedata.normalize('NFC', n)) for n in SENT_MAIL_FOLDERS)})\.mbox/"
    r"(?:[^/]+/)*Attachments/",
    re.IGNORECASE,
)


def classify_mail(mailbox: str) -> AppMedia | None:
    """Sent for an attachment of mail whose mailbox (``evidence.mail.mailbox_of``: the mbox file, the .eml's
    folder, the PST folder path) is a sent-mail folder of ``SENT_MAIL_FOLDERS``; None for any other mailbox."""
    parts = [p for p in mailbox.replace("\\", "/").split("/") if p]
    # Apple Mail: the mailbox is a folder "Sent Messages.mbox" holding an mbox file "mbox", or .emlx files deeper
    apple = [p for p in parts if p.casefold().endswith(".mbox")]
    last = _MAIL_SUFFIX.sub("", apple[-1] if apple else parts[-1]) if parts else ""
    if unicodedata.normalize("NFC", last).casefold() not in _SENT_MAIL:  # macOS names are decomposed (NFD)
        return None
    return AppMedia(MediaKind.SENT, MAIL_APP, last, "an attachment of a message in a sent-mail folder")


def classify_item(path: str, mailbox: str | None) -> AppMedia | None:
    """An item's app media: a mail attachment's by its mailbox (``classify_mail``), any other item's by its
    path (``classify``, then Apple Mail's saved attachments of sent mail). The one function reports call, so
    sent mail and sent app media are counted together."""
    if mailbox is not None:
        return classify_mail(mailbox)
    found = classify(path)
    if found is None and _APPLE_SENT_ATTACHMENT.search(unicodedata.normalize("NFC", path.replace("\\", "/"))):
        note = "an attachment Apple Mail saved beside a message in a sent-mail folder"
        return AppMedia(MediaKind.SENT, MAIL_APP, "<sent folder>.mbox/.../Attachments", note)
    return found


def not_decoded() -> list[VaultApp]:
    """The vault apps whose storage Safenet does not decode (all of them today), for the limitations."""
    return [app for app in VAULT_APPS if not app.decoded]
