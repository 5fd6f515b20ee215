"""Build small ext4, exFAT and NTFS images with known benign media files (some deleted) for the image tests.

Debian tools only: ``mkfs.ext4 -d`` + ``debugfs``; ``mkfs.exfat`` (exfatprogs); ``mkntfs`` + the ntfs-3g
FUSE driver (a container without /dev/fuse cannot mount it: the NTFS builder then skips, naming why).
Nothing here runs as a shell: every tool gets an argument list.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from safenet.case.schema import ItemRow
from safenet.case.store import Case
from safenet.engine.profiles import Profile
from safenet.engine.triage import TriageOptions, triage
from safenet.evidence.image import ImageEvidence
from safenet.evidence.locator import LayerKind
from safenet.evidence.model import EvidenceWarning, Item
from safenet.hashsets.model import SetKind
from safenet.hashsets.store import HashSetStore
from tests.builders import VicsSet, jpeg


def listing(source: Path) -> tuple[ImageEvidence, list[Item], list[EvidenceWarning]]:
    """Open an image and list it, collecting warnings (shared by the corpus listing tests)."""
    evidence = ImageEvidence(source)
    warnings: list[EvidenceWarning] = []
    return evidence, list(evidence.items(warnings.append)), warnings


def path_of(item: Item) -> str:
    return next(la.value for la in item.locator.layers if la.kind is LayerKind.PATH)


def content(evidence: ImageEvidence, item: Item) -> bytes:
    with evidence.open(item.locator) as stream:
        return stream.read()


HAVE_EXT4 = bool(shutil.which("mkfs.ext4") and shutil.which("debugfs"))
HAVE_EXFAT = bool(shutil.which("mkfs.exfat"))
HAVE_FAT = bool(shutil.which("mkfs.vfat") and shutil.which("mcopy"))


def full_triage(image: Path, tmp_path: Path, known: dict[str, bytes]) -> tuple[int, list[ItemRow]]:
    """Triage ``image`` in the full profile against a hash set of ``known``: (hits, every item row)."""
    vics = VicsSet()
    for n, data in enumerate(known.values()):
        vics.add(data, 1 + n % 3)
    store = HashSetStore(tmp_path / "hashdb")
    store.import_file(vics.write(tmp_path / "set.json"), "caid-test", kind=SetKind.ILLICIT, warn=lambda r, m: None)
    case = Case.create_or_open(tmp_path / "case")
    options = TriageOptions(exhibit="EX1", profile=Profile.FULL, hashsets=("caid-test",), operator="tester")
    outcome = triage(image, case, store, options)
    with case.sessions() as s:
        return outcome.hits, list(s.query(ItemRow))


def exfat_image(tmp_path: Path, size: str = "8M") -> Path:
    """An empty exFAT volume (mkfs.exfat, 4 KiB clusters): tests write into its free clusters directly."""
    image = tmp_path / "exfat.img"
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    subprocess.run(["mkfs.exfat", "-c", "4096", str(image)], check=True, capture_output=True)
    return image


HAVE_NTFS = bool(shutil.which("mkntfs") and shutil.which("ntfs-3g") and shutil.which("fusermount"))


def photos(count: int, folder: str = "DCIM", size: tuple[int, int] = (320, 240)) -> dict[str, bytes]:
    """``count`` distinct benign JPEGs keyed by their path in the image."""
    return {f"{folder}/IMG_{i:04d}.JPG": jpeg(1000 + i, size) for i in range(count)}


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def ext4_image(
    tmp_path: Path, files: dict[str, bytes], delete: list[str], wipe: bool = False, size: str = "16M"
) -> Path:
    """An ext4 image holding ``files``, then ``delete`` removed with debugfs.

    debugfs's ``rm`` frees the inode and blocks but leaves the extent tree in the inode (the content is
    recoverable); ``wipe`` first empties the extent tree and the size, as the Linux kernel does on delete.
    """
    image = tmp_path / "ext4.img"
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    src = _tree(tmp_path / "ext4-src", files)
    cmd = ["mkfs.ext4", "-q", "-F", "-b", "4096", "-E", "root_owner=0:0", "-d", str(src), str(image)]
    subprocess.run(cmd, check=True, capture_output=True)
    script = tmp_path / "debugfs.cmd"
    lines = [f"{op} /{rel}{arg}" for rel in delete for op, arg in ([("punch", " 0"), ("sif", " size 0")] * wipe)]
    lines += [f"rm /{rel}" for rel in delete]
    script.write_text("\n".join(lines) + "\n")
    subprocess.run(["debugfs", "-w", "-f", str(script), str(image)], check=True, capture_output=True)
    return image


@contextlib.contextmanager
def _mounted(image: Path, mountpoint: Path) -> Iterator[Path]:
    mountpoint.mkdir()
    opts = "streams_interface=windows,no_def_opts"
    run = subprocess.run(["ntfs-3g", "-o", opts, str(image), str(mountpoint)], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"ntfs-3g FUSE mount not available here: {run.stderr.strip()[:120]}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["fusermount", "-u", str(mountpoint)], check=True)


def ntfs_image(
    tmp_path: Path,
    files: dict[str, bytes],
    delete: list[str],
    streams: dict[str, bytes] | None = None,
    size: str = "16M",
) -> Path:
    """An NTFS image (mkntfs) filled through ntfs-3g; ``streams`` maps "path:name" to ADS content."""
    image = tmp_path / "ntfs.img"
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    subprocess.run(["mkntfs", "-F", "-q", "-f", "-L", "EVIDENCE", str(image)], check=True, capture_output=True)
    with _mounted(image, tmp_path / "mnt") as root:
        _tree(root, files)
        for spec, data in (streams or {}).items():
            (root / spec).write_bytes(data)  # streams_interface=windows: "file:stream" names the ADS
        for rel in delete:
            (root / rel).unlink()
    return image


HAVE_LUKS = bool(shutil.which("cryptsetup") and shutil.which("openssl") and shutil.which("mkfs.vfat"))


def luks_image(tmp_path: Path, files: dict[str, bytes], password: str) -> Path:
    """A LUKS1 container (aes-ecb) around a FAT volume holding ``files``, made without a loop device.

    ``cryptsetup luksFormat`` writes the header into a plain file (no device-mapper needed) with a volume
    key we choose; the FAT volume is then encrypted with that key by ``openssl`` and written at the
    payload offset, which is what ``cryptsetup open`` + ``mkfs`` would have produced. ECB keeps it to
    one openssl call (XTS needs a per-sector tweak); libluksde reads both.
    """
    fat = tmp_path / "inner.img"
    subprocess.run(["truncate", "-s", "4M", str(fat)], check=True)
    subprocess.run(["mkfs.vfat", "-F", "12", "-n", "SECRET", str(fat)], check=True, capture_output=True)
    src = _tree(tmp_path / "luks-src", files)
    for rel in files:
        parts = Path(rel).parts
        for depth in range(1, len(parts)):
            subprocess.run(["mmd", "-D", "s", "-i", str(fat), "::/" + "/".join(parts[:depth])], capture_output=True)
        subprocess.run(["mcopy", "-i", str(fat), str(src / rel), f"::/{rel}"], check=True)
    key = (b"safenet-test-volume-key-32bytes!" * 2)[:32]
    (tmp_path / "volume.key").write_bytes(key)
    (tmp_path / "pass").write_text(password)
    image = tmp_path / "luks.img"
    subprocess.run(["truncate", "-s", "6M", str(image)], check=True)
    fmt = ["cryptsetup", "luksFormat", "--type", "luks1", "--cipher", "aes-ecb", "--key-size", "256"]
    fmt += ["--volume-key-file", str(tmp_path / "volume.key"), "--key-file", str(tmp_path / "pass")]
    fmt += ["--batch-mode", "--pbkdf-force-iterations", "1000"]  # the minimum: tests need no slow KDF
    subprocess.run([*fmt, str(image)], check=True, capture_output=True)
    enc = subprocess.run(
        ["openssl", "enc", "-aes-256-ecb", "-nopad", "-K", key.hex(), "-in", str(fat)],
        check=True,
        capture_output=True,
    ).stdout
    dump = subprocess.run(["cryptsetup", "luksDump", str(image)], check=True, capture_output=True, text=True)
    payload = int(re.search(r"Payload offset:\s*(\d+)", dump.stdout).group(1))  # type: ignore[union-attr]
    with image.open("r+b") as handle:
        handle.seek(payload * 512)
        handle.write(enc)
    return image
