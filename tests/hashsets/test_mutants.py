"""Seeded mutants of every hash-set sample in tests/data/hashsets, imported through the command line.

Each mutant is either imported (exit 0) or refused with exit 4 and one sentence; never an internal error, a
traceback or a crashed interpreter. Byte-level damage comes from ``tests/mutants.py``; JSON/text damage that
byte flips rarely reach (deep nesting, long numbers, repeated keys, stray quotes) is added here.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from safenet.cli import Exit, main
from tests.datafiles import DATA
from tests.mutants import Mutant, mutants

SAMPLES = sorted(p for p in (DATA / "hashsets").iterdir() if p.is_file() and p.name != "README.md")
_RUNS = (b"[" * 3000, b"{" * 50, b"9" * 4400, b'"MD5": "', b'"MD5": "00", ', b"\\u0000", b"\n" * 3, b"\xef\xbb\xbf")


def text_damage(data: bytes, rng: random.Random) -> Mutant:
    """Insert one run that stresses a text parser (nesting, number length, keys, quotes, NULs, BOMs)."""
    at = rng.randrange(len(data) + 1)
    run = rng.choice(_RUNS)
    return Mutant(f"insert-{run[:8]!r}x{len(run)}@{at}", data[:at] + run + data[at:])


def damaged(sample: Path, seed: int, count: int) -> list[Mutant]:
    data = sample.read_bytes()
    donors = [p.read_bytes()[:1024] for p in SAMPLES if p != sample]
    rng = random.Random(seed)
    found = list(mutants(data, seed, count, donors))
    return found + [text_damage(data, rng) for _ in range(count // 4)]


def check_imports(sample: Path, seed: int, count: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hashdb = str(tmp_path / "db")
    outcomes: dict[int, int] = {}
    for number, mutant in enumerate(damaged(sample, seed, count)):
        path = tmp_path / f"m{number}{sample.suffix}"
        path.write_bytes(mutant.data)
        code = main(
            ["hashset", "import", str(path), "--name", "m", "--kind", "notable", "--replace", "--hashdb", hashdb]
        )
        err = capsys.readouterr().err
        where = f"{sample.name} seed {seed} mutant {number} ({mutant.how}): exit {code}: {err[-400:]}"
        assert code in (Exit.OK, Exit.HASHSET), where
        assert "Traceback" not in err and "internal error" not in err, where
        if code == Exit.HASHSET:
            errors = [line for line in err.splitlines() if line.startswith("safenet: error:")]
            assert len(errors) == 1 and err.rstrip().splitlines()[-1] == errors[0], where
        outcomes[code] = outcomes.get(code, 0) + 1
        path.unlink()
    assert sum(outcomes.values()) == count + count // 4


def test_samples_are_all_there() -> None:
    names = {p.name for p in SAMPLES}
    assert {"vics20_case_uk.json", "NSRLFile.txt", "RDS_synthetic_minimal.db", "example.hashdeep"} <= names


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_mutants_import_or_are_refused_in_one_sentence(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_imports(sample, seed=19, count=12, tmp_path=tmp_path, capsys=capsys)


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_many_mutants_import_or_are_refused_in_one_sentence(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_imports(sample, seed=2026, count=160, tmp_path=tmp_path, capsys=capsys)


GOOD_PDQ, BAD_PDQ = b"ab" * 32, b"cd" * 32


@pytest.mark.parametrize(
    ("data", "code", "said"),
    [
        (b"]0112233445566778899a\rbbccddeeff00112233  ./docs/e\xb4ampPe\xb4dll\n", Exit.HASHSET, "error"),
        (b"pdq,quality\n" + GOOD_PDQ + b",100\n" + BAD_PDQ + b"\r,100\n", Exit.OK, "line 3: not a CSV row"),
    ],
    ids=["sniffed", "csv-row"],
)
def test_a_bare_cr_in_a_csv_line_is_refused_or_skipped_not_a_crash(
    data: bytes, code: int, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Found by the mutants above (example.sha1, seed 2026): the PDQ reader's csv calls raised on a bare CR.
    path = tmp_path / "set.txt"
    path.write_bytes(data)
    args = ["hashset", "import", str(path), "--name", "m", "--kind", "notable", "--hashdb", str(tmp_path / "db")]
    assert main(args) == code
    err = capsys.readouterr().err
    assert said in err and "internal error" not in err


NSRL_HEADER = b'"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\r\n'


@pytest.mark.parametrize("number", ["\u00b2", "9" * 5_000], ids=["superscript", "long"])
@pytest.mark.parametrize(
    "template",
    [
        b"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\nN,00112233445566778899aabbccddeeff,a\n",
        NSRL_HEADER
        + b'"0000000000000000000000000000000000000001","00112233445566778899AABBCCDDEEFF","0","a",N,1,"x",""\r\n',
        b"pdq,quality\n" + GOOD_PDQ + b",N\n",
    ],
    ids=["hashdeep-size", "nsrl-size", "pdq-quality"],
)
def test_numbers_that_str_isdigit_accepts_but_int_refuses_are_not_a_crash(
    template: bytes, number: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # str.isdigit() is true for "²" and for 5 000 nines; int() refuses both: the readers checked only the former.
    path = tmp_path / "set.txt"
    path.write_bytes(template.replace(b"N", number.encode()))
    args = ["hashset", "import", str(path), "--name", "m", "--kind", "notable", "--hashdb", str(tmp_path / "db")]
    code = main(args)
    err = capsys.readouterr().err
    assert code in (Exit.OK, Exit.HASHSET) and "internal error" not in err, err
