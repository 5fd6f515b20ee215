"""Lead files built for the operation's tests: CyberTipline XML and P2P-monitoring CSV with its mapping.

The CyberTipline files follow the shapes of NCMEC's public CyberTipline Reporting API schema, as far as
``safenet.ops.cybertip`` reads them:
  - ``report`` > ``reportId`` (the CyberTip number);
  - ``report`` > ``incidentSummary`` > ``incidentType``, ``incidentDateTime`` (xs:dateTime with its offset);
  - ``report`` > ``reporter`` > ``reportingPerson`` (ignored);
  - ``report`` > ``personOrUserReported`` > ``screenName``, ``ipCaptureEvent`` > ``ipAddress``, ``eventName``,
    ``dateTime``, ``possibleProxy``, ``port``;
  - ``report`` > ``fileDetails`` (or beside the report, naming it in ``reportId``) > ``fileId``,
    ``originalFileName``, ``fileName``, ``originalFileHash`` with ``hashType`` (MD5, SHA1, PhotoDNA ...),
    ``ipCaptureEvent`` (as above);
and any wrapper element around several reports. Hash values here are of benign generated pictures or made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape


@dataclass
class TipFile:
    file_id: str
    name: str
    hashes: dict[str, str]  # hashType -> value
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (ip, port, dateTime)


@dataclass
class Tip:
    report_id: str
    incident: str = "2026-12-01T21:14:03-05:00"
    person_events: list[tuple[str, str, str]] = field(default_factory=list)
    files: list[TipFile] = field(default_factory=list)
    screen_name: str = "user123"


def _events(events: list[tuple[str, str, str]], indent: str) -> str:
    out = []
    for ip, port, when in events:
        out.append(
            f"{indent}<ipCaptureEvent>\n{indent}  <ipAddress>{escape(ip)}</ipAddress>\n"
            f"{indent}  <eventName>Upload</eventName>\n{indent}  <dateTime>{escape(when)}</dateTime>\n"
            f"{indent}  <possibleProxy>false</possibleProxy>\n"
            + (f"{indent}  <port>{escape(port)}</port>\n" if port else "")
            + f"{indent}</ipCaptureEvent>\n"
        )
    return "".join(out)


def _file(tip_file: TipFile, indent: str, report_id: str | None = None) -> str:
    hashes = "".join(
        f'{indent}  <originalFileHash hashType="{escape(kind)}">{escape(value)}</originalFileHash>\n'
        for kind, value in tip_file.hashes.items()
    )
    rid = f"{indent}  <reportId>{escape(report_id)}</reportId>\n" if report_id else ""
    return (
        f"{indent}<fileDetails>\n{rid}{indent}  <fileId>{escape(tip_file.file_id)}</fileId>\n"
        f"{indent}  <fileName>{escape(tip_file.file_id)}.jpg</fileName>\n"
        f"{indent}  <originalFileName>{escape(tip_file.name)}</originalFileName>\n{hashes}"
        + _events(tip_file.events, indent + "  ")
        + f"{indent}</fileDetails>\n"
    )


def cybertip_xml(tips: list[Tip], *, loose_files: list[tuple[str, TipFile]] | None = None, prolog: str = "") -> str:
    body = []
    for tip in tips:
        body.append(
            "  <report>\n"
            f"    <reportId>{escape(tip.report_id)}</reportId>\n"
            "    <incidentSummary>\n"
            "      <incidentType>Child Pornography (possession, manufacture, and distribution)</incidentType>\n"
            f"      <incidentDateTime>{escape(tip.incident)}</incidentDateTime>\n"
            "    </incidentSummary>\n"
            "    <reporter><reportingPerson><firstName>Trust</firstName></reportingPerson></reporter>\n"
            "    <personOrUserReported>\n"
            f"      <screenName>{escape(tip.screen_name)}</screenName>\n"
            + _events(tip.person_events, "      ")
            + "    </personOrUserReported>\n"
            + "".join(_file(f, "    ") for f in tip.files)
            + "  </report>\n"
        )
    body += [_file(f, "  ", rid) for rid, f in loose_files or []]
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}<cyberTipReports>\n{"".join(body)}</cyberTipReports>\n'


def write_cybertip(
    path: Path, tips: list[Tip], *, loose_files: list[tuple[str, TipFile]] | None = None, prolog: str = ""
) -> Path:
    path.write_text(cybertip_xml(tips, loose_files=loose_files, prolog=prolog), encoding="utf-8")
    return path


P2P_MAPPING = """\
columns:
  source_ref: reference
  observed: seen
  ip: ip
  port: port
  hash: hash
  file_name: file
  client_id: guid
  observations: hits
fixed:
  hash_kind: ed2k
time_zone: Europe/London
time_format: "%d/%m/%Y %H:%M:%S"
"""

P2P_HEADER = "reference,seen,ip,port,hash,file,guid,hits\n"
