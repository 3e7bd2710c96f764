"""The sanctions list: OFAC's SDN.XML and SDN.CSV read to Ethereum addresses, loaded into the
store (both backends) by `copyvault compliance load-list`, names never stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cli import cli
from backend.db.compliance_models import SanctionsEntry, ScreeningCursor
from backend.services.sanctions_list import SanctionsListError, load_list, parse_list

FIXTURES = Path(__file__).parent / "fixtures"
DEPOSITOR = "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc"  # anvil account 5
LEADER = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"  # anvil account 2
NOBODY = "0x00000000000000000000000000000000000dead1"
EXPECTED = {
    (DEPOSITOR, "990001", "CYBER2"),
    (NOBODY, "990001", "CYBER2"),
    (LEADER, "990002", "CYBER2,DPRK3"),
}


@pytest.mark.parametrize("name", ["sdn_sample.xml", "sdn_sample.csv"])
def test_parse_list__sdn_xml_and_csv__the_eth_addresses_with_uid_and_programs(name):
    listed = parse_list(FIXTURES / name)
    assert {(x.address, x.list_uid, x.programs) for x in listed} == EXPECTED


def test_parse_list__xml_without_namespace__still_read(tmp_path):
    text = (FIXTURES / "sdn_sample.xml").read_text()
    bare = tmp_path / "bare.xml"
    bare.write_text(text.replace(' xmlns="http://tempuri.org/sdnList.xsd"', ""))
    assert {x.address for x in parse_list(bare)} == {DEPOSITOR, NOBODY, LEADER}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<sdnList", "not well-formed XML"),
        ("<other/>", "not an SDN.XML <sdnList>"),
        (
            "<sdnList><sdnEntry><uid>7</uid><idList><id><idType>Digital Currency Address - ETH"
            "</idType><idNumber>0x1234</idNumber></id></idList></sdnEntry></sdnList>",
            "sdnEntry 7: '0x1234' is not an Ethereum address",
        ),
        ("<sdnList></sdnList>", "names no 'Digital Currency Address - ETH' address"),
        ('1,"A","-0-","X","","","","","","","","no addresses"', "names no"),
    ],
)
def test_parse_list__bad_files__an_error_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "list.txt"
    path.write_text(content)
    with pytest.raises(SanctionsListError, match=message):
        parse_list(path)


def test_parse_list__missing_file__says_so(tmp_path):
    with pytest.raises(SanctionsListError, match="cannot read"):
        parse_list(tmp_path / "absent.xml")


def test_load_list__replaces_the_list_and_resets_screening__no_names_stored(stores):
    engine = stores.engine()
    now = datetime.now(UTC)
    with Session(engine) as s:
        s.add(ScreeningCursor(chain_id=1, block=99, updated_at=now))
        s.add(
            SanctionsEntry(
                address="0x" + "77" * 20, list_uid="1", programs="", source="old", loaded_at=now
            )
        )
        s.commit()
        assert load_list(s, FIXTURES / "sdn_sample.xml", now) == 3
        rows = s.scalars(select(SanctionsEntry)).all()
        assert {(r.address, r.list_uid, r.programs) for r in rows} == EXPECTED
        assert {r.source for r in rows} == {"sdn_sample.xml"}
        assert s.scalars(select(ScreeningCursor)).all() == []
    with engine.connect() as conn:
        dumped = str([tuple(r) for r in conn.execute(select(SanctionsEntry.__table__))])
    for name in ("EXAMPLE MIXING SERVICE", "EXAMPLEMAN", "Jonas", "X0000000"):
        assert name not in dumped


def test_load_list__a_bad_file__keeps_the_current_list(stores, tmp_path):
    engine = stores.engine()
    bad = tmp_path / "bad.xml"
    bad.write_text("<sdnList></sdnList>")
    with Session(engine) as s:
        load_list(s, FIXTURES / "sdn_sample.csv", datetime.now(UTC))
        with pytest.raises(SanctionsListError):
            load_list(s, bad, datetime.now(UTC))
        s.rollback()
        assert len(s.scalars(select(SanctionsEntry)).all()) == 3


def test_cli_load_list__loads_and_reports(stores, monkeypatch):
    url = stores.url()
    monkeypatch.setenv("COPYVAULT_DATABASE_URL", url)
    result = CliRunner().invoke(cli, ["compliance", "load-list", str(FIXTURES / "sdn_sample.xml")])
    assert result.exit_code == 0, result.output
    assert "3 Ethereum addresses from sdn_sample.xml" in result.output
    engine = stores.engine(url, migrate=False)
    with Session(engine) as s:
        assert len(s.scalars(select(SanctionsEntry)).all()) == 3


def test_purge_offchain__compliance_tables__are_kept():
    from backend.db.compliance_models import COMPLIANCE_TABLES
    from backend.db.offchain import offchain_tables

    purged = {table.name for table in offchain_tables()}
    kept = {model.__table__.name for model in COMPLIANCE_TABLES}
    assert kept == {"sanctions_entries", "screening_cursors", "screening_cases", "kyc_attestations"}
    assert not purged & kept


def test_listed__more_addresses_than_one_query_takes__every_match_found(stores):
    from backend.services.screening import listed

    engine = stores.engine()
    now = datetime.now(UTC)
    addresses = [f"0x{i:040x}" for i in range(1, 1_301)]
    with Session(engine) as s:
        s.add_all(
            SanctionsEntry(address=a, list_uid=str(i), programs="", source="t", loaded_at=now)
            for i, a in enumerate(addresses)
            if i % 2 == 0
        )
        s.commit()
        found = listed(s, addresses)
    assert found == {a: str(i) for i, a in enumerate(addresses) if i % 2 == 0}
