"""Cellebrite UFDR packages built for tests.

The shape followed (as UFDR readers such as Cellebrite Reader, IPED's UFED parser and public write-ups show it):
a zip holding ``report.xml`` at its root and the extracted files under ``files/<Kind>/...``. ``report.xml``:

    <project xmlns="http://pa.cellebrite.com/report/2.0" reportVersion="7.60.0.0" ...>
      <sourceExtractions><extractionInfo id="0" name="Full file system" type="FullFileSystem"/></sourceExtractions>
      <metadata section="Device Info">
        <item name="DeviceInfoSelectedManufacturer"><![CDATA[Samsung]]></item>
        <item name="DeviceInfoDetectedModel"><![CDATA[SM-G991B]]></item>
        <item name="IMEI"><![CDATA[356789012345678]]></item>  (also Serial, DeviceInfoOSVersion, DeviceInfoOSType)
      </metadata>
      <taggedFiles>
        <file fs="Data" path="/data/media/0/DCIM/Camera/IMG_1.jpg" size="123" deleted="Intact" extractionId="0">
          <accessInfo><timestamp name="ModifyTime">2023-05-01T10:00:00.000+00:00</timestamp> ...</accessInfo>
          <metadata section="File">
            <item name="Local Path"><![CDATA[files\\Image\\IMG_1.jpg]]></item>
            <item name="SHA256">...</item><item name="MD5">...</item>
          </metadata>
        </file>
      </taggedFiles>
    </project>

Some report versions put the digests in ``<hash type="MD5">`` elements instead of metadata items; the builder
writes either (``hash_elements``). ``Local Path`` uses backslashes, as Windows-made packages do.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = "http://pa.cellebrite.com/report/2.0"


@dataclass
class UfdrFile:
    path: str  # on the device
    data: bytes
    local_path: str  # member in the zip, backslashes as written by Windows
    deleted: bool = False
    md5: str | None = None  # listed digests; None: the true one
    sha256: str | None = None
    in_zip: bool = True
    modified: str = "2023-05-01T10:00:00.000+00:00"


@dataclass
class Ufdr:
    files: list[UfdrFile] = field(default_factory=list)
    device: dict[str, str] = field(
        default_factory=lambda: {
            "DeviceInfoSelectedManufacturer": "Samsung",
            "DeviceInfoDetectedModel": "SM-G991B",
            "IMEI": "356789012345678",
            "Serial": "R58N12345AB",
            "DeviceInfoOSVersion": "13",
            "DeviceInfoOSType": "Android",
        }
    )
    hash_elements: bool = False
    prologue: str = '<?xml version="1.0" encoding="utf-8"?>\n'
    extra_members: dict[str, bytes] = field(default_factory=dict)

    def add(self, path: str, data: bytes, **kw: object) -> UfdrFile:
        name = path.rsplit("/", 1)[-1]
        entry = UfdrFile(path, data, f"files\\Image\\{len(self.files)}_{name}", **kw)  # type: ignore[arg-type]
        self.files.append(entry)
        return entry

    def report_xml(self) -> str:
        device = "".join(f"<item name={quoteattr(k)}><![CDATA[{v}]]></item>" for k, v in self.device.items())
        files = "".join(self._file(f) for f in self.files)
        return (
            f'{self.prologue}<project xmlns="{NS}" id="1" name="Test" reportVersion="7.60.0.0" '
            'containsGarbage="False" extractionType="FullFileSystem">'
            '<sourceExtractions><extractionInfo id="0" name="Full file system" type="FullFileSystem" />'
            "</sourceExtractions>"
            '<caseInformation><field name="Case number" fieldType="CaseNumber">X1</field></caseInformation>'
            f'<metadata section="Device Info">{device}</metadata>'
            f"<taggedFiles>{files}</taggedFiles>"
            '<decodedData><modelType type="Chat" /></decodedData>'
            "</project>"
        )

    def _file(self, f: UfdrFile) -> str:
        md5 = f.md5 or hashlib.md5(f.data).hexdigest()
        sha256 = f.sha256 or hashlib.sha256(f.data).hexdigest()
        if self.hash_elements:
            digests = f'</metadata><hash type="MD5">{md5}</hash><hash type="SHA256">{sha256}</hash><metadata>'
        else:
            digests = f'<item name="MD5">{md5}</item><item name="SHA256">{sha256}</item>'
        return (
            f'<file fs="Data" fsid="1" path={quoteattr(f.path)} size="{len(f.data)}" id="{id(f)}" '
            f'extractionId="0" deleted="{"Deleted" if f.deleted else "Intact"}" embedded="false">'
            f'<accessInfo><timestamp name="ModifyTime" format="TimeStampKnown">{f.modified}</timestamp>'
            '<timestamp name="CreationTime">2023-04-30T09:00:00.000+00:00</timestamp></accessInfo>'
            f'<metadata section="File"><item name="Local Path"><![CDATA[{f.local_path}]]></item>'
            f'{digests}<item name="Tags">{escape("Image")}</item></metadata>'
            '<metadata section="MetaData"><item name="Width">64</item></metadata>'
            "</file>"
        )

    def build(self, report: str | None = None) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("report.xml", report if report is not None else self.report_xml())
            for f in self.files:
                if f.in_zip:
                    zf.writestr(f.local_path.replace("\\", "/"), f.data)
            for name, data in self.extra_members.items():
                zf.writestr(name, data)
        return buf.getvalue()
