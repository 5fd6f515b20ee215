"""Times whose zone is unknown (FAT) are never written as UTC: local time without an offset everywhere."""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from safenet.case.store import Case
from safenet.report.data import report_data
from safenet.report.exports import export_items
from safenet.report.exports.caseuco import export_case_uco
from safenet.report.exports.dfxml import export_dfxml
from safenet.report.exports.vics import export_vics
from safenet.report.times import human_time, iso_time, utc_text
from safenet.report.writers import render_html, write_csv
from tests.evidence.image_builders import full_triage
from tests.evidence.test_image_unallocated import fat_image
from tests.report.test_exports import DFXML_XSD
from tests.report.test_reports import SCHEMA

LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")  # ISO 8601 local time: no offset at all
WALL = datetime(2024, 5, 1, 14, 30, tzinfo=UTC)  # how the store hands back a FAT wall-clock time


def test_time_forms() -> None:
    assert iso_time(WALL, True) == "2024-05-01T14:30:00+00:00"
    assert iso_time(WALL, False) == "2024-05-01T14:30:00"
    assert utc_text(WALL) == "2024-05-01T14:30:00Z" and utc_text(WALL, False) == "2024-05-01T14:30:00"
    assert human_time(WALL, True) == "2024-05-01 14:30:00 UTC"
    assert human_time(WALL, False) == "2024-05-01 14:30:00 (local time, zone unknown)"
    assert iso_time(None, False) is None and utc_text(None) is None and human_time(None, True) == ""


@pytest.mark.skipif(not (shutil.which("mkfs.vfat") and shutil.which("mcopy")), reason="dosfstools/mtools missing")
def test_fat_times_are_local_in_every_format(tmp_path: Path) -> None:
    image, files = fat_image(tmp_path)
    hits, rows = full_triage(image, tmp_path, {"IMG_0000.JPG": files["IMG_0000.JPG"]})
    assert hits == 1
    [row] = [r for r in rows if r.display.endswith("/IMG_0000.JPG (inode 4)")]
    assert row.time_zone_known is False and row.modified is not None
    wall = row.modified.replace(tzinfo=None).isoformat()
    case = Case.open_existing(tmp_path / "case")

    data = report_data(case)
    jsonschema.validate(data, SCHEMA)
    [item] = [i for i in data["items"] if i["item_id"] == row.id]
    assert item["time_zone_known"] is False and item["modified"] == wall and LOCAL.match(wall)

    csv_path = tmp_path / "r.csv"
    write_csv(data, csv_path)
    [csv_row] = [r for r in csv.DictReader(csv_path.open()) if r["item_id"] == str(row.id)]
    assert csv_row["modified"] == wall and csv_row["time_zone_known"] == "False"

    html = render_html(data)
    assert f"{row.modified.strftime('%Y-%m-%d %H:%M:%S')} (local time, zone unknown)" in html

    items = export_items(case)
    assert [i.time_zone_known for i in items] == [False]
    dfxml = etree.fromstring(export_dfxml(case, items))
    schema = etree.XMLSchema(etree.parse(str(DFXML_XSD)))
    assert schema.validate(dfxml), schema.error_log  # xs:dateTime without a zone is valid: local time
    mtimes = dfxml.findall(".//{*}fileobject/{*}mtime")
    assert [m.text for m in mtimes] == [wall]
    vics = json.loads(export_vics(case, items))
    assert vics["value"][0]["Media"][0]["MediaFiles"][0]["Written"] == wall
    graph = json.loads(export_case_uco(case, items))["@graph"]
    facet = next(f for n in graph for f in n.get("uco-core:hasFacet", []) if "uco-observable:modifiedTime" in f)
    assert facet["uco-observable:modifiedTime"]["@value"] == wall
