"""What the audit trail costs: gas of an anchor and of an on-chain proof check, and how fast
concurrent writers append to the hash chain on each store.

    python -m bench.audit [--intents 1000] [--writers 4] [--appends 200] [--postgres URL]

- ``anchor``: gas of `AuditAnchor.anchor` (the first, then a later one, which also checks that it
  follows the last) on a fresh anvil; the same whatever the number of intents, since
  only the root is stored;
- ``verifyIntent``: gas estimate of checking one proof in a tree of `--intents` intents;
- ``append sqlite`` / ``append postgresql``: `--writers` threads on separate engines (as separate
  processes would be), each appending `--appends` entries, each in its own commit. PostgreSQL
  only with `--postgres URL` (a database the run may create tables in; it makes and drops a
  schema of its own).

Prints one line per row.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.audit.anchors import AnchorContract
from backend.audit.merkle import IntentTree
from backend.chain.abi import ContractAbi
from backend.chain.artifacts import load
from backend.chain.client import ChainClient
from backend.chain.node import start_anvil
from backend.chain.tx import UnlockedSender, created_address
from backend.db.engine import create_store_engine
from backend.db.migrate import upgrade
from backend.services import audit_log


def gas_rows(intents: int) -> list[str]:
    node = start_anvil()
    try:
        client = ChainClient(node.url)
        admin = UnlockedSender(client, client.request("eth_accounts")[0])
        artifacts = load()
        deploy = ContractAbi(artifacts.get("AuditAnchor")).deploy_data(admin.address, admin.address)
        contract = AnchorContract(client, created_address(admin.send(None, deploy)), artifacts)
        start = int(time.time()) - 10_000
        values = [(secrets.token_bytes(32), start - 5) for _ in range(intents)]
        tree = IntentTree.build(values)
        head = "0x" + "11" * 32
        gas = []
        for index, (begin, end) in enumerate([(0, start), (start, start + 60)]):
            call = contract.anchor_call(index + 1, head, tree.root, begin, end)
            gas.append(int(admin.send(contract.address, call)["gasUsed"], 16))
        digest, at = values[0]
        proof = tree.proof(digest, at)
        data = contract.abi.call_data("verifyIntent", 0, digest, at, proof)
        check = client.request(
            "eth_estimateGas", [{"to": contract.address, "data": "0x" + data.hex()}]
        )
        return [
            f"anchor             first {gas[0]} gas, later {gas[1]} gas",
            f"verifyIntent       {int(check, 16)} gas ({intents} intents, {len(proof)} hashes)",
        ]
    finally:
        node.stop()


def append_rate(url: str, writers: int, appends: int) -> float:
    upgrade(url)
    engines = [create_store_engine(url) for _ in range(writers)]

    def write(engine) -> None:
        with Session(engine) as session:
            for _ in range(appends):
                audit_log.append(
                    session, category="backup", actor="system:bench", action="bench.append"
                )
                session.commit()

    threads = [threading.Thread(target=write, args=(engine,)) for engine in engines]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for engine in engines:
        engine.dispose()
    return writers * appends / elapsed


def postgres_schema_url(url: str) -> tuple[str, str]:
    schema = f"bench_audit_{secrets.token_hex(4)}"
    engine = create_store_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), schema


def drop_schema(url: str, schema: str) -> None:
    engine = create_store_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (psycopg) to also measure")
    args = parser.parse_args(argv)
    for row in gas_rows(args.intents):
        print(row)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'audit.db'}"
        rate = append_rate(url, args.writers, args.appends)
        print(f"append sqlite      {rate:.0f} entries/s ({args.writers} writers)")
    if args.postgres:
        scoped, schema = postgres_schema_url(args.postgres)
        try:
            rate = append_rate(scoped, args.writers, args.appends)
            print(f"append postgresql  {rate:.0f} entries/s ({args.writers} writers)")
        finally:
            drop_schema(args.postgres, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
