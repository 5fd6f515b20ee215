"""The checks a validation requirement can name: one table, each running Safenet's own code on a data set.

A check returns the observed value in the same JSON-like shape as the requirement's expected value, so the
runner compares them with ``==`` and the report prints both. A check never decides pass or fail itself.
"""

from __future__ import annotations

import csv
import gzip
import random
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safenet.evidence.locator import LayerKind, Locator
from safenet.validation.pack import PackError, Requirement

Check = Callable[[Path, Requirement, Path], Any]


def dataset_path(data: Path, spec: str, scratch: Path) -> Path:
    """The data set as a path: ``a.zip!member`` is extracted and a ``.gz`` file unpacked into ``scratch``."""
    archive, bang, member = spec.partition("!")
    source = data / archive
    if not source.exists() and (data / f"{archive}.gz").is_file():
        source = data / f"{archive}.gz"
    if not source.exists():
        raise PackError(f"the data set {spec} is not in {data}; restore the data folder from the repository")
    if bang:
        with zipfile.ZipFile(source) as zipped:
            return Path(zipped.extract(member, scratch))
    if source.suffix == ".gz" and not archive.endswith(".gz"):
        target = scratch / source.stem
        with gzip.open(source) as packed, target.open("wb") as out:
            shutil.copyfileobj(packed, out)
        return target
    return source


def _triage(source: Path, scratch: Path, profile: str, password: str | None = None) -> Any:
    """A real triage of ``source`` into a fresh scratch case (no hash sets); returns the open case. ``password``:
    an encrypted fixture's (a phone backup's), given as an examiner gives it."""
    from safenet.case.store import Case
    from safenet.engine.profiles import Profile
    from safenet.engine.triage import TriageOptions, triage
    from safenet.evidence.model import Credential, CredentialKind, OpenContext

    folder = scratch / f"case-{len(list(scratch.glob('case-*')))}"
    case = Case.create_or_open(folder)
    context = OpenContext(credentials=(Credential(CredentialKind.PASSWORD, password),) if password else ())
    options = TriageOptions(exhibit="V1", profile=Profile(profile), operator="validation", context=context)
    triage(source, case, None, options)
    return case


def path_key(locator: Locator) -> str | None:
    """An item's path in its file system (``/dir/name``, ``/name:stream`` for a data stream), or None for an item
    inside another (archive member, cache entry, carved or embedded)."""
    layers = locator.layers
    last_path = max((i for i, layer in enumerate(layers) if layer.kind is LayerKind.PATH), default=None)
    if last_path is None:
        return None
    rest = layers[last_path + 1 :]
    if not rest:
        return layers[last_path].value
    if len(rest) == 1 and rest[0].kind is LayerKind.STREAM:
        return f"{layers[last_path].value}:{rest[0].value}"
    return None


def _recorded(case: Any) -> list[tuple[Locator, Any]]:
    from safenet.case.queries import iter_items

    return [(Locator.from_json(row.locator), row) for row, _label, _hit in iter_items(case)]


def files_md5(data: Path, req: Requirement, scratch: Path) -> Any:
    """Triage the data set (profile ``params.profile``, default full; ``params.password`` for an encrypted one) and
    give each expected path's recorded MD5 ("not found" when no item of that path was recorded; ``params.deleted``:
    only deleted, or only live items). A phone's path is the path on the phone (an iTunes backup's
    ``Domain/relativePath``)."""
    source = dataset_path(data, req.dataset, scratch)
    password = req.params.get("password")
    case = _triage(source, scratch, str(req.params.get("profile", "full")), str(password) if password else None)
    wanted_deleted = req.params.get("deleted")
    found: dict[str, str] = {}
    for locator, row in _recorded(case):
        key = path_key(locator)
        if key is None or (wanted_deleted is not None and bool(row.deleted) != bool(wanted_deleted)):
            continue
        found.setdefault(key, row.md5 or "not hashed")
    return {path: found.get(path, "not found") for path in req.expected}


def volumes(data: Path, req: Requirement, scratch: Path) -> Any:
    """Each volume Safenet finds: [first sector, sectors, file system] (512-byte sectors)."""
    from safenet.inspect import inspect_source

    info = inspect_source(dataset_path(data, req.dataset, scratch))
    return [[v["offset"] // 512, v["length"] // 512, v["filesystem"]] for v in info["volumes"]]


def cache_entries(data: Path, req: Requirement, scratch: Path) -> Any:
    """Triage each folder of thumbnail caches (standard profile) and count the cache entries recorded per folder
    (a file stored gzipped in the data folder is unpacked first, as it lies on the original disk)."""
    root = dataset_path(data, req.dataset, scratch)
    counts: dict[str, int] = {}
    for name in req.expected:
        folder = scratch / "caches" / name
        folder.mkdir(parents=True)
        for file in sorted((root / name).iterdir()):
            if file.suffix == ".gz":
                dataset_path(root / name, file.stem, folder)  # unpacked into the folder under its own name
            else:
                shutil.copy(file, folder / file.name)
        case = _triage(folder, scratch, "standard")
        counts[name] = sum(1 for loc, _row in _recorded(case) if loc.leaf.kind is LayerKind.CACHE_ENTRY)
    return counts


def pdq_reference(data: Path, req: Requirement, scratch: Path) -> Any:
    """Safenet's exact PDQ path on every carried row of the reference CSV: rows checked, and the rows whose hash or
    quality differs from the reference columns (``params``: the CSV's column names)."""
    from safenet.analysis.pdq import PdqMode, PdqResult, compute

    folder = dataset_path(data, req.dataset, scratch)
    p = req.params
    checked, differing = 0, []
    with (folder / str(p["csv"])).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            path = folder / row[p["path"]]
            if not path.is_file():
                continue  # a row whose picture is not carried in the data folder
            reference = row[p["hash"]] or row[p["fallback_hash"]]
            quality = int(row[p["quality"]] or row[p["fallback_quality"]])
            result = compute(path, PdqMode.EXACT, orient=False)
            checked += 1
            if not isinstance(result, PdqResult) or (result.full.hex, result.quality) != (reference, quality):
                differing.append(row[p["path"]])
    return {"rows checked": checked, "differing": differing}


def hashset_records(data: Path, req: Requirement, scratch: Path) -> Any:
    """Read a hash-set sample with its format's reader (``params.format``): each record's digests (hex), size and
    name, and how many warnings the reader gave."""
    from safenet.hashsets.formats import get_format
    from safenet.hashsets.model import HashRecord

    warnings: list[str] = []
    records = get_format(str(req.params["format"])).read(
        dataset_path(data, req.dataset, scratch), lambda ref, message: warnings.append(f"{ref}: {message}")
    )
    out = []
    for r in records:
        if not isinstance(r, HashRecord):  # a bulk batch of digests (NSRL RDS): not listed record by record
            continue
        fields = (
            ("md5", r.md5),
            ("sha1", r.sha1),
            ("sha256", r.sha256),
            ("size", r.size),
            ("name", r.name),
            ("category", r.category),
        )
        out.append({k: (v.hex() if isinstance(v, bytes) else v) for k, v in fields if v is not None})
    return {"records": out, "warnings": len(warnings)}


def carved_md5s(data: Path, req: Requirement, scratch: Path) -> Any:
    """Plant the data set's pictures at sector boundaries in seeded random bytes (a raw image with no file
    system), triage it with the full profile, and give the MD5 of every carved item (sorted)."""
    folder = dataset_path(data, req.dataset, scratch)
    rng = random.Random(int(req.params.get("seed", 1)))  # noqa: S311 - filler bytes, reproducible by seed
    image = scratch / "carve.raw"
    with image.open("wb") as out:
        for name in req.params["files"]:
            out.write(rng.randbytes(512 * rng.randint(8, 64)))
            body = (folder / str(name)).read_bytes()
            out.write(body + rng.randbytes(-len(body) % 512))
        out.write(rng.randbytes(512 * 16))
    case = _triage(image, scratch, "full")
    return sorted({row.md5 for loc, row in _recorded(case) if loc.leaf.kind is LayerKind.CARVED and row.md5})


CHECKS: dict[str, Check] = {
    "files-md5": files_md5,
    "volumes": volumes,
    "cache-entries": cache_entries,
    "pdq-reference": pdq_reference,
    "hashset-records": hashset_records,
    "carved-md5s": carved_md5s,
}
