"""Leads: CyberTipline XML and CSV imports (built files; the CyberTipline elements followed, after NCMEC's public
reporting schema, are listed in ``tests/ops/leadfiles.py``), errors as one sentence with the line, duplicates
merged, grouping by subscriber address, hostile text kept as data."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from safenet.ops.errors import ImportFailed, OpsError
from safenet.ops.leads import import_csv, import_cybertip, list_leads, set_subscriber
from safenet.ops.store import OpsStore
from safenet.ops.subjects import set_risk, subjects
from tests.ops.leadfiles import P2P_HEADER, P2P_MAPPING, Tip, TipFile, write_cybertip
from tests.ops.opsfixtures import ANALYST, ops

__all__ = ["ops"]

MD5_A = "0123456789abcdef0123456789abcdef"
MD5_B = "fedcba9876543210fedcba9876543210"
SHA1_B = "a" * 40
ED2K = "31d6cfe0d16ae931b73c59d7e0c089c0"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _tips() -> list[Tip]:
    return [
        Tip(
            "120456789",
            person_events=[("203.0.113.7", "51413", "2026-12-01T21:14:03-05:00")],
            files=[
                TipFile("f1", "holiday.jpg", {"MD5": MD5_A.upper(), "PhotoDNA": "AAAA"}),
                TipFile("f2", XSS, {"SHA1": SHA1_B, "MD5": MD5_B}, [("198.51.100.2", "", "2026-12-02T08:00:00Z")]),
            ],
        ),
        Tip("120456790", person_events=[], files=[TipFile("f9", "x.jpg", {"PhotoDNA": "BBBB"})]),
    ]


def test_cybertip_import_reads_reports_files_events_and_zones(ops: OpsStore, tmp_path: Path) -> None:
    path = write_cybertip(
        tmp_path / "tips.xml",
        _tips(),
        loose_files=[("120456789", TipFile("f3", "beside.png", {"MD5": MD5_B}, []))],
    )
    result = import_cybertip(ops, ANALYST, path)
    assert result.added == ["L-1", "L-2", "L-3"]
    assert result.merged == []
    # the second report has no usable hash and no event: a warning naming its line, no lead
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("tips.xml line ") and "120456790 file f9 has no MD5" in result.warnings[0]
    leads = {lead.source_ref: lead for lead in list_leads(ops, ANALYST, order="time")}
    first = leads["120456789/f1"]
    assert (first.hash_kind, first.hash_hex) == ("md5", MD5_A)
    assert (first.ip, first.port) == ("203.0.113.7", 51413)
    assert first.observed_utc == datetime(2026, 12, 2, 2, 14, 3, tzinfo=UTC)
    assert (first.observed_text, first.observed_zone) == ("2026-12-01T21:14:03-05:00", "-05:00")
    assert first.file_name == "holiday.jpg" and first.source == "cybertip" and first.observations == 1
    second = leads["120456789/f2"]  # the file's own event wins over the person's; MD5 preferred over SHA-1
    assert (second.ip, second.port, second.hash_kind, second.hash_hex) == ("198.51.100.2", None, "md5", MD5_B)
    assert second.observed_zone == "UTC"
    assert second.file_name == XSS  # hostile text is kept as data; the dashboard escapes it
    assert leads["120456789/f3"].ip == "203.0.113.7"  # a fileDetails beside its report


def test_cybertip_reimport_merges_and_sums_observations(ops: OpsStore, tmp_path: Path) -> None:
    path = write_cybertip(tmp_path / "tips.xml", _tips())
    import_cybertip(ops, ANALYST, path)
    again = import_cybertip(ops, ANALYST, path)
    assert again.added == [] and again.merged == ["L-1", "L-2"]
    assert [lead.observations for lead in list_leads(ops, ANALYST, order="time")] == [2, 2]


@pytest.mark.parametrize(
    ("prolog", "expected"),
    [
        ('<!DOCTYPE r [<!ENTITY x "y">]>\n', "tips.xml declares a DTD or entities, which Safenet refuses to read"),
        ('<!DOCTYPE r SYSTEM "http://example.invalid/x.dtd">\n', "tips.xml declares a DTD or entities"),
    ],
)
def test_cybertip_dtd_and_entities_are_refused(ops: OpsStore, tmp_path: Path, prolog: str, expected: str) -> None:
    path = write_cybertip(tmp_path / "tips.xml", _tips(), prolog=prolog)
    with pytest.raises(ImportFailed, match=expected):
        import_cybertip(ops, ANALYST, path)
    assert list_leads(ops, ANALYST) == []


def test_cybertip_errors_name_the_line(ops: OpsStore, tmp_path: Path) -> None:
    zoneless = [
        Tip("1", person_events=[("203.0.113.7", "", "2026-12-01T21:14:03")], files=[TipFile("f", "a", {"MD5": MD5_A})])
    ]
    path = write_cybertip(tmp_path / "tips.xml", zoneless)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "<dateTime>" in text)
    with pytest.raises(ImportFailed) as caught:
        import_cybertip(ops, ANALYST, path)
    assert str(caught.value).startswith(f"tips.xml line {line}: '2026-12-01T21:14:03' has no time zone")
    bad_ip = [
        Tip("1", person_events=[("999.1.1.1", "", "2026-12-01T21:14:03Z")], files=[TipFile("f", "a", {"MD5": MD5_A})])
    ]
    path = write_cybertip(tmp_path / "tips.xml", bad_ip)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "<ipAddress>" in text)
    with pytest.raises(ImportFailed, match=rf"^tips.xml line {line}: '999.1.1.1' is not an IP address$"):
        import_cybertip(ops, ANALYST, path)
    (tmp_path / "broken.xml").write_text("<cyberTipReports>\n<report>\n</cyberTipReports>\n")
    with pytest.raises(ImportFailed, match=r"^broken.xml line 3 is not well-formed XML \(mismatched tag\)$"):
        import_cybertip(ops, ANALYST, tmp_path / "broken.xml")
    assert list_leads(ops, ANALYST) == []


def _csv(tmp_path: Path, rows: list[str], mapping: str = P2P_MAPPING) -> tuple[Path, Path]:
    (tmp_path / "obs.csv").write_text(P2P_HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    (tmp_path / "p2p.yaml").write_text(mapping, encoding="utf-8")
    return tmp_path / "obs.csv", tmp_path / "p2p.yaml"


def test_csv_import_with_mapping_and_duplicates_merged(ops: OpsStore, tmp_path: Path) -> None:
    rows = [
        f"NCA-1,01/12/2026 21:14:03,203.0.113.7,4662,{ED2K},a.avi,guid-1,3",
        f"NCA-2,01/07/2026 10:00:00,203.0.113.8,,{ED2K.upper()},b.avi,guid-2,",
        f"NCA-1,02/12/2026 09:00:00,203.0.113.9,4662,{ED2K},a.avi,guid-1,2",  # same reference: merged
        f",01/12/2026 21:14:03,203.0.113.7,4662,{ED2K},a.avi,guid-1,4",  # same hash + IP + time: merged
    ]
    result = import_csv(ops, ANALYST, *_csv(tmp_path, rows), "p2p")
    assert result.added == ["L-1", "L-2"] and result.merged == ["L-1"]
    leads = {lead.id: lead for lead in list_leads(ops, ANALYST)}
    assert leads["L-1"].observations == 3 + 2 + 4
    assert leads["L-1"].observed_utc == datetime(2026, 12, 1, 21, 14, 3, tzinfo=UTC)  # GMT in December
    assert leads["L-2"].observed_utc == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)  # BST in July
    assert (leads["L-2"].observed_zone, leads["L-2"].hash_hex, leads["L-2"].port) == ("Europe/London", ED2K, None)


@pytest.mark.parametrize(
    ("rows", "mapping", "expected"),
    [
        (
            [f"R,01/12/2026 21:14:03,203.0.113.300,1,{ED2K},a,g,1"],
            P2P_MAPPING,
            "obs.csv line 2: '203.0.113.300' is not an IP address",
        ),
        (
            [
                "R1,01/12/2026 21:14:03,203.0.113.1,1," + ED2K + ",a,g,1",
                "R2,2026-12-01,203.0.113.1,1," + ED2K + ",a,g,1",
            ],
            P2P_MAPPING,
            "obs.csv line 3: '2026-12-01' is not a time in the expected form (%d/%m/%Y %H:%M:%S)",
        ),
        (
            [f"R,01/12/2026 21:14:03,203.0.113.1,1,{ED2K[:-1]},a,g,1"],
            P2P_MAPPING,
            "obs.csv line 2: '" + ED2K[:-1] + "' is not a ed2k hash (32 hex digits)",
        ),
        (
            [f"R,01/12/2026 21:14:03,203.0.113.1,99999,{ED2K},a,g,1"],
            P2P_MAPPING,
            "obs.csv line 2: '99999' is not a port number (1-65535)",
        ),
        (
            [f"R,01/12/2026 21:14:03,203.0.113.1,\u00b9,{ED2K},a,g,1"],  # isdigit() takes it, int() does not
            P2P_MAPPING,
            "obs.csv line 2: '\u00b9' is not a port number (1-65535)",
        ),
        (
            [f"R,01/12/2026 21:14:03,203.0.113.1,1,{ED2K},a,g,\u00b2"],
            P2P_MAPPING,
            "obs.csv line 2: observations '\u00b2' is not a whole number of 1 or more",
        ),
        (
            [f"R,01/12/2026 21:14:03,203.0.113.1,1,{ED2K},a,g,{'9' * 20}"],  # more than the database holds
            P2P_MAPPING,
            f"obs.csv line 2: observations '{'9' * 20}' is not a whole number of 1 or more",
        ),
        (
            [f"R,01/12/2026 21:14:03,203.0.113.1,1,{ED2K},a,g,0"],
            P2P_MAPPING,
            "obs.csv line 2: observations '0' is not a whole number of 1 or more",
        ),
        (
            [],
            P2P_MAPPING.replace("ip: ip", "ip: address"),
            "obs.csv line 1: the mapping's column 'address' (for ip) is not in the header",
        ),
        ([], P2P_MAPPING.replace("  port: port\n", "  colour: port\n"), "p2p.yaml line 5: unknown lead field 'colour'"),
        ([], P2P_MAPPING.replace("time_zone:", "timezone:"), "p2p.yaml line 12: unknown key 'timezone'"),
        (
            [],
            P2P_MAPPING.replace("hash_kind: ed2k", "hash_kind: crc32"),
            "p2p.yaml line 11: 'crc32' is not a hash kind",
        ),
        ([], P2P_MAPPING.replace("fixed:\n  hash_kind: ed2k\n", ""), "p2p.yaml line 1: the mapping gives no hash_kind"),
        ([], "columns: [a\n", "p2p.yaml line 2 is not valid YAML"),
    ],
)
def test_csv_mistakes_are_one_sentence_with_the_line(
    ops: OpsStore, tmp_path: Path, rows: list[str], mapping: str, expected: str
) -> None:
    with pytest.raises(ImportFailed) as caught:
        import_csv(ops, ANALYST, *_csv(tmp_path, rows, mapping), "p2p")
    assert str(caught.value).startswith(expected), str(caught.value)
    assert "\n" not in str(caught.value)
    assert list_leads(ops, ANALYST) == []  # nothing is stored from a file with a mistake


def test_leads_are_grouped_by_subscriber_address_and_queued_by_risk(ops: OpsStore, tmp_path: Path) -> None:
    rows = [
        f"R1,01/12/2026 21:00:00,203.0.113.1,1,{ED2K},a,g,1",
        f"R2,02/12/2026 21:00:00,203.0.113.2,1,{ED2K},a,g,5",
        f"R3,03/12/2026 21:00:00,203.0.113.1,1,{ED2K},a,g,1",
    ]
    import_csv(ops, ANALYST, *_csv(tmp_path, rows), "p2p")
    first = set_subscriber(ops, ANALYST, "L-1", "1 High Street,  Anytown AB1 2CD")
    assert set_subscriber(ops, ANALYST, "L-3", "1 high street anytown ab1 2cd") == first  # same household
    other = set_subscriber(ops, ANALYST, "L-2", "2 Low Road, Anytown")
    assert other != first
    assert [s.id for s in subjects(ops, ANALYST)] == [other, first]  # more observations first while no risk
    set_risk(ops, ANALYST, first, "high", "access to children recorded by the force")
    queue = subjects(ops, ANALYST)
    assert [s.id for s in queue] == [first, other]
    assert queue[0].leads == ("L-1", "L-3") and queue[0].signals.observations == 2
    assert queue[0].risk_level == "high" and queue[0].risk_by == ANALYST.name
    assert [lead.id for lead in list_leads(ops, ANALYST)][:2] == ["L-3", "L-1"]  # the high-risk subject's first
    with pytest.raises(OpsError, match="there is no lead L-99"):
        set_subscriber(ops, ANALYST, "L-99", "x")


def test_signals_name_the_categories_of_known_hashes_and_children_recorded(
    ops: OpsStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    from safenet.cli import Exit, main
    from safenet.ops.leads import LeadIn, store_leads
    from safenet.ops.people import record_safeguarding
    from safenet.ops.visits import add_visit
    from tests.builders import VicsSet, jpeg, md5
    from tests.ops.opsfixtures import EXAMINER, SUPERVISOR

    known = VicsSet()
    known.add(jpeg(7), 2)  # category B
    assert main(["hashset", "import", str(known.write(tmp_path / "vics.json")), "--name", "s"]) == Exit.OK
    capsys.readouterr()
    when = datetime(2026, 12, 1, 21, tzinfo=UTC)
    leads = [
        LeadIn("p2p", "R1", when, "t", "UTC", "203.0.113.1", None, md5(jpeg(7)), "md5", "t"),
        LeadIn("p2p", "R2", when, "t", "UTC", "203.0.113.1", None, md5(jpeg(8)), "md5", "t"),
    ]
    store_leads(ops, ANALYST, leads)
    subject_id = set_subscriber(ops, ANALYST, "L-1", "1 High Street")
    set_subscriber(ops, ANALYST, "L-2", "1 High Street")
    add_visit(ops, ANALYST, lead_ids=["L-1"], warrant_power="s.8", warrant_ref="1", planned_date=date(2026, 12, 9))
    record_safeguarding(ops, SUPERVISOR, "V-1", children=2)
    (seen,) = subjects(ops, SUPERVISOR, hashdb=tmp_path / "hashdb")
    assert seen.id == subject_id
    assert seen.signals.categories == ("B",) and seen.signals.children_recorded == 2
    assert seen.signals.last_observed_utc == when and seen.signals.leads == 2
    last = ops.audit.entries()[-1]
    assert last["event"] == "safeguarding-viewed" and last["data"]["subjects"] == [subject_id]
    with pytest.raises(OpsError):  # an examiner sees no leads, so no subjects
        subjects(ops, EXAMINER)


def test_a_csv_field_too_long_is_one_sentence_and_the_csv_limit_of_the_process_is_kept(
    ops: OpsStore, tmp_path: Path
) -> None:
    # csv.field_size_limit is process-wide: the import's own limit must not shrink every other reader's
    before = csv.field_size_limit()
    rows = [f"R1,01/12/2026 21:14:03,203.0.113.1,1,{ED2K},{'a' * 70_000},g,1"]
    with pytest.raises(ImportFailed) as caught:
        import_csv(ops, ANALYST, *_csv(tmp_path, rows), "p2p")
    assert str(caught.value) == "obs.csv line 2: a value is longer than 65,536 characters"
    assert csv.field_size_limit() == before
    import_csv(ops, ANALYST, *_csv(tmp_path, [f"R2,01/12/2026 21:14:03,203.0.113.1,1,{ED2K},a,g,1"]), "p2p")
    assert csv.field_size_limit() == before


def test_a_reference_or_source_longer_than_the_database_column_is_one_sentence(ops: OpsStore, tmp_path: Path) -> None:
    # SQLite would store it; PostgreSQL refuses a value longer than the column (a traceback, a 500)
    rows = [
        f"R1,01/12/2026 21:14:03,203.0.113.1,1,{ED2K},a,g,1",
        f"{'R' * 201},01/12/2026 21:14:03,203.0.113.2,1,{ED2K},a,g,1",
    ]
    with pytest.raises(ImportFailed, match=r"^obs\.csv line 3: the source ref is longer than 200 characters$"):
        import_csv(ops, ANALYST, *_csv(tmp_path, rows), "p2p")
    with pytest.raises(ImportFailed, match=r"^obs\.csv line 2: the source is longer than 40 characters$"):
        import_csv(ops, ANALYST, *_csv(tmp_path, rows[:1]), "s" * 41)
    assert list_leads(ops, ANALYST) == []
