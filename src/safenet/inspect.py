"""``safenet inspect``: what a source holds (volumes, file systems, encryption, sizes, stored image hash).

A service function returning plain data, shared by the CLI and (later) the web UI. Nothing is hashed
or listed file by file here: it answers "what is on this drive?" in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safenet.evidence.model import EvidenceError, OpenContext


def inspect_source(path: Path, context: OpenContext | None = None) -> dict[str, Any]:
    """Describe a disk image or device: its format, size, stored hashes and every volume's state."""
    from safenet.evidence.image import ImageEvidence
    from safenet.evidence.image.chain import VolumeState
    from safenet.evidence.model import NotMyFormat

    if not path.exists():
        raise EvidenceError(f"evidence path {path} does not exist; check the path and that the drive is mounted")
    try:
        evidence = ImageEvidence(path, context)
    except NotMyFormat:
        raise EvidenceError(f"{path.name} is not a disk image or file system Safenet can read") from None
    if not evidence.volumes:
        raise EvidenceError(f"{path.name} is not a disk image or file system Safenet can read")
    description = evidence.describe()
    volumes = []
    for volume in evidence.volumes:
        partition = next((la for la in volume.layers if la.kind.value == "partition"), None)
        encryption = next((la.detail for la in volume.layers if la.kind.value == "encryption"), None)
        fs = next((la.detail for la in volume.layers if la.kind.value == "filesystem"), None)
        state, message = volume.state.value, volume.message
        if volume.state is VolumeState.READABLE and (problem := evidence.check(volume)):
            # what triage would meet: "readable" only where the file system opens and its root folder lists
            state, message = VolumeState.ERROR.value, "; ".join(filter(None, (message, problem)))
        volumes.append(
            {
                "name": volume.name,
                "partition": partition.value if partition else None,
                "scheme": partition.detail if partition else None,
                "offset": partition.offset if partition else 0,
                "length": partition.length if partition else None,
                "encryption": encryption,
                "filesystem": fs,
                "state": state,
                "message": message,
                "unlocked_with": volume.unlocked_with.value if volume.unlocked_with else None,
            }
        )
    details = description.details
    return {
        "source": description.source,
        "format": details.get("format"),
        "device": details.get("device") == "true",
        "size": int(details.get("size", "0")),
        "stored_hashes": {k.removeprefix("stored_"): v for k, v in details.items() if k.startswith("stored_")},
        "volumes": volumes,
    }
