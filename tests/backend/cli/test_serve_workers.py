"""`copyvault serve --workers 2`: two API processes, the indexer and the relayer as processes of
their own; an intent posted to either API process is relayed, and stopping the server stops all."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from backend.chain.actions import Key
from tests.backend.api.helpers import intent_body
from tests.backend.helpers import admit_leader
from tests.utils.server_process import indexed_through, poll_until, running_server

OUTLIVE_GRACE_SECONDS = 10.0


def _wait(predicate, seconds: float = 60.0):
    answer = poll_until(predicate, seconds)
    assert answer, "timed out"
    return answer


def _children(pid: int) -> dict[int, str]:
    """pid -> command line of each child of `pid`."""
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    )
    rows = [line.strip().split(maxsplit=1) for line in out.stdout.splitlines() if line.strip()]
    return {int(pid): args for pid, args in rows}


def _alive(pid: int) -> bool:
    """Running: a zombie (exited, not yet reaped by whoever adopted it) does not count."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _allowed_cpus(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(line for line in status.splitlines() if line.startswith("Cpus_allowed_list"))


def test_serve_workers__api_processes_share_one_indexer_and_one_relayer(anvil_chain, tmp_path):
    chain, a = anvil_chain, anvil_chain.actions
    admit_leader(chain, salt=1)
    store = f"sqlite:///{tmp_path / 'store.db'}"
    relayer = Key.anvil(3)
    with running_server(
        chain.node.url,
        chain.deployment,
        tmp_path,
        store,
        relayer=relayer,
        serve_args=("--workers", "2"),
    ) as (api, server):
        children = _children(server["pid"])
        commands = list(children.values())
        assert sum("backend.cli index" in c for c in commands) == 1, commands
        assert sum("backend.cli relay" in c for c in commands) == 1, commands
        api_processes = [
            p for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        if len(os.sched_getaffinity(0)) >= 2:  # each API process on a CPU of its own
            pinned = {_allowed_cpus(p) for p in api_processes}
            assert len(api_processes) == len(pinned) == 2, pinned
        head = chain.head()
        _wait(lambda: indexed_through(api, head))
        health = api.get("/v1/health").json()
        assert health["indexer"]["enabled"] is False  # not in the API processes

        intent, signature = a.intent(chain.leader, nonce=1)
        response = api.post("/v1/intents", json=intent_body(intent, signature))
        assert response.status_code == 202, response.text
        digest = response.json()["digest"]
        status = _wait(
            lambda: (s := api.get(f"/v1/intents/{digest}").json())["status"] == "done" and s
        )
        assert [o["status"] for o in status["vaults"]] == ["mirrored"]

    # multiprocessing's resource tracker (uvicorn's workers start one) leaves when it reads the
    # end of its parent's pipe, a moment after the server: allow the moment, not a survivor.
    def survivors() -> dict[int, str]:
        return {p: children[p] for p in children if _alive(p)}

    poll_until(lambda: not survivors(), OUTLIVE_GRACE_SECONDS, every=0.1)
    alive = survivors()
    assert not alive, f"processes outlived the server by {OUTLIVE_GRACE_SECONDS}s: {alive}"
