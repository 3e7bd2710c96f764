"""Sanctions lists in OFAC's published formats: the Ethereum addresses they name.

Two of the formats OFAC publishes the SDN list in are read (docs/compliance.md shows both):

- `SDN.XML` (namespace `http://tempuri.org/sdnList.xsd`): each `<sdnEntry>` has a `<uid>`, a
  `<programList>` and an `<idList>` of `<id>` elements; an Ethereum address is an `<id>` whose
  `<idType>` is `Digital Currency Address - ETH` and whose `<idNumber>` is the address.
- `SDN.CSV` (no header; the first column is the entry's uid, the last its remarks): the remarks
  name each address as `Digital Currency Address - ETH 0x...;`.

Only the address, the entry's uid and its programs are kept: the names on the list are not
needed to screen and are not stored. Python's XML parser (expat 2.4.1 or later) refuses entity
expansion attacks and never fetches external entities, so a hostile file cannot exhaust memory.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from eth_utils import is_hex_address
from sqlalchemy import delete
from sqlalchemy.orm import Session

from backend.db.compliance_models import SanctionsEntry, ScreeningCursor
from backend.exceptions import ConfigError

ETH_ID_TYPE = "Digital Currency Address - ETH"
SDN_NAMESPACE = "{http://tempuri.org/sdnList.xsd}"
_CSV_ETH = re.compile(re.escape(ETH_ID_TYPE) + r"\s+(0x[0-9a-fA-F]{40})\b")


class SanctionsListError(ConfigError):
    """The file is not a sanctions list this module reads (the message says what is wrong)."""


@dataclass(frozen=True)
class ListedAddress:
    address: str  # lowercase 0x-hex
    list_uid: str
    programs: str


def _text(element: ET.Element, name: str) -> str:
    found = element.find(SDN_NAMESPACE + name)
    if found is None:
        found = element.find(name)  # files re-saved without the namespace
    return (found.text or "").strip() if found is not None else ""


def _children(element: ET.Element, path: str) -> list[ET.Element]:
    qualified = "/".join(SDN_NAMESPACE + part for part in path.split("/"))
    return element.findall(qualified) or element.findall(path)


def _address(value: str, where: str) -> str:
    if not is_hex_address(value):
        raise SanctionsListError(f"{where}: {value!r} is not an Ethereum address")
    return value.lower()


def parse_sdn_xml(content: bytes) -> list[ListedAddress]:
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise SanctionsListError(f"not well-formed XML ({exc})") from None
    if root.tag not in (SDN_NAMESPACE + "sdnList", "sdnList"):
        raise SanctionsListError(f"the root element is {root.tag!r}, not an SDN.XML <sdnList>")
    found = []
    for entry in _children(root, "sdnEntry"):
        uid = _text(entry, "uid")
        programs = ",".join((p.text or "").strip() for p in _children(entry, "programList/program"))
        for identity in _children(entry, "idList/id"):
            if _text(identity, "idType") == ETH_ID_TYPE:
                where = f"sdnEntry {uid or '(no uid)'}"
                address = _address(_text(identity, "idNumber"), where)
                found.append(ListedAddress(address, uid, programs))
    return found


def parse_sdn_csv(content: bytes) -> list[ListedAddress]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")  # OFAC's older CSV files are Windows-1252
    found = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(row) < 4:
            continue  # OFAC ends the file with a control-character line
        uid, program, remarks = row[0].strip(), row[3].strip(), row[-1]
        for match in _CSV_ETH.finditer(remarks):
            address = _address(match.group(1), f"line {number}")
            found.append(ListedAddress(address, uid, _csv_programs(program)))
    return found


def _csv_programs(column: str) -> str:
    """OFAC's CSV writes several programs as `A] [B` and none as `-0-`."""
    return "" if column == "-0-" else column.replace("] [", ",")


def parse_list(path: Path) -> list[ListedAddress]:
    """The Ethereum addresses of an SDN.XML or SDN.CSV file (by its content, not its name)."""
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise SanctionsListError(f"cannot read {path} ({exc.strerror})") from None
    if content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        listed = parse_sdn_xml(content)
    else:
        listed = parse_sdn_csv(content)
    if not listed:
        raise SanctionsListError(
            f"{path} names no '{ETH_ID_TYPE}' address: is it OFAC's SDN.XML or SDN.CSV?"
        )
    return listed


def load_list(session: Session, path: Path, now: datetime) -> int:
    """Replace the stored list with the addresses of `path` (one transaction) and reset every
    screening cursor, so that the next screening checks every known address against it. The
    number of distinct addresses stored."""
    listed = {entry.address: entry for entry in parse_list(path)}
    session.execute(delete(SanctionsEntry))
    session.add_all(
        SanctionsEntry(
            address=entry.address,
            list_uid=entry.list_uid[:32],
            programs=entry.programs[:256],
            source=Path(path).name[:256],
            loaded_at=now,
        )
        for entry in listed.values()
    )
    session.execute(delete(ScreeningCursor))
    session.commit()
    return len(listed)
