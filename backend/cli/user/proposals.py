"""`copyvault withdrawal ...` and `copyvault config ...`: owner-approved operations, collected by
the API as the web app does: the API prepares the EIP-712 document, each owner's account signs it
here (after checking it, see signing.py), and once the threshold is met anyone executes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import click

from backend.cli.user.common import Env, command
from backend.cli.user.signing import checked_document, sign_checked
from backend.cli.user.transact import public, transact, tx_line
from backend.cli.user.units import UserError, parse_amount, parse_duration

STATUSES: Final = ("pending", "ready", "executed", "stale")


@click.group()
def withdrawal() -> None:
    """Withdrawals the owners' threshold approves: propose, sign, list, execute."""


@click.group()
def config() -> None:
    """Configuration changes the owners' threshold approves: propose, sign, list, execute."""


# ----------------------------------------------------------------------------- propose


@withdrawal.command(name="propose")
@click.argument("vault_address", metavar="VAULT")
@click.option("--token", required=True, help="Token symbol (WETH, USDC) or address.")
@click.option("--amount", required=True, help="Amount in token units, e.g. 12.5.")
@click.option("--to", "recipient", required=True, help="Address that receives the tokens.")
@click.option("--deadline", default="1d", show_default=True, help="How long owners have to sign.")
@click.option("--nonce", type=int, default=None, help="Vault nonce (default: its next one).")
@command(signs=True, api=True)
def propose_withdrawal(env: Env, vault_address: str, token: str, amount: str, **opts: Any) -> None:
    """Propose (and sign, as first owner) a withdrawal of --amount --token from VAULT to --to."""
    vault_address = env.address(vault_address, "VAULT")
    info = env.token(token)
    raw = parse_amount(amount, info.decimals, info.symbol)
    held = env.view("TestToken", info.address, "balanceOf", vault_address)
    if held < raw:
        raise UserError(f"insufficient balance: the vault holds {info.amount(held)}")
    request = {
        "token": info.address,
        "amount": str(raw),
        "to": env.address(opts["recipient"], "--to"),
        "deadline": env.timestamp() + parse_duration(opts["deadline"]),
    }
    expected = {"token": info.address, "amount": raw, "to": request["to"]}
    _propose(env, vault_address, "withdrawals", request, expected, opts["nonce"])


@config.command(name="propose")
@click.argument("vault_address", metavar="VAULT")
@click.argument("function")
@click.argument("arguments", nargs=-1)
@click.option("--deadline", default="1d", show_default=True, help="How long owners have to sign.")
@command(signs=True, api=True)
def propose_config_command(
    env: Env, vault_address: str, function: str, arguments: tuple[str, ...], deadline: str
) -> None:
    """Propose (and sign) VAULT's configuration call FUNCTION ARGUMENTS..., e.g. `setThreshold 2`,
    `setAssetAllowed USDC false`, `setPolicy 5000,100,3600,10,0`, `unpause`."""
    from backend.services.proposals import CONFIG_FUNCTIONS

    if function not in CONFIG_FUNCTIONS:
        raise UserError(
            f"{function!r} is not a configuration function: {', '.join(CONFIG_FUNCTIONS)}"
        )
    vault_address = env.address(vault_address, "VAULT")
    data = _config_call(env, function, arguments)
    propose_config(env, vault_address, data, deadline)


def propose_config(env: Env, vault_address: str, data: bytes, deadline: str) -> None:
    """Propose the configuration call `data` on `vault_address` and sign it as the account."""
    request = {
        "data": "0x" + data.hex(),
        "deadline": env.timestamp() + parse_duration(deadline),
    }
    _propose(env, vault_address, "config", request, {"data": data}, None)


def _propose(
    env: Env,
    vault_address: str,
    kind: str,
    request: dict[str, Any],
    expected: dict[str, Any],
    nonce: int | None,
) -> None:
    _require_owner(env, vault_address)
    api = env.api()
    if nonce is not None:
        request["nonce"] = nonce
    prepared = api.post(f"/v1/vaults/{vault_address}/proposals/{kind}/prepare", request)
    expected = expected | {"deadline": request["deadline"]}
    if nonce is not None:
        expected["nonce"] = nonce
    domain, message, digest = checked_document(
        env, prepared, contract=vault_address, expected=expected
    )
    body = request | {
        "nonce": message.nonce,
        "proposer": env.wallet.address,
        "signature": sign_checked(env, domain, message),
    }
    proposal = api.post(f"/v1/vaults/{vault_address}/proposals/{kind}", body)
    env.emit(proposal, f"proposed {digest}\n" + _proposal_text(env, proposal))


# ----------------------------------------------------------------------------- sign


def _sign(env: Env, digest: str) -> None:
    api = env.api()
    proposal = api.get(f"/v1/proposals/{digest}")
    vault_address = proposal["vault"]
    domain, message, checked = checked_document(
        env,
        {"digest": digest, "typed_data": proposal["typed_data"]},
        contract=vault_address,
        expected={},
    )
    _require_same_terms(proposal, message)
    _require_owner(env, vault_address)
    env.note(f"signing for {vault_address}:\n" + _proposal_text(env, proposal))
    body = {"signer": env.wallet.address, "signature": sign_checked(env, domain, message)}
    api.post(f"/v1/proposals/{checked}/signatures", body)
    updated = api.get(f"/v1/proposals/{checked}")
    env.emit(updated, f"signed {checked}\n" + _proposal_text(env, updated))


# ----------------------------------------------------------------------------- list


def _list(env: Env, vault_address: str, kind: str, status: str | None) -> None:
    vault_address = env.address(vault_address, "VAULT")
    items, cursor = [], None
    while True:
        page = env.api().get(
            f"/v1/vaults/{vault_address}/proposals", status=status, cursor=cursor, limit=200
        )
        items += [p for p in page["items"] if p["kind"] == kind]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    text = "\n\n".join(f"{p['digest']}\n{_proposal_text(env, p)}" for p in items)
    env.emit({"items": items}, text or f"no {kind} proposals")


# ----------------------------------------------------------------------------- execute


def _execute(env: Env, digest: str) -> None:
    proposal = env.api().get(f"/v1/proposals/{digest}")
    if proposal["status"] != "ready" or not proposal.get("ready_call"):
        raise UserError(f"proposal {digest} is not ready:\n" + _proposal_text(env, proposal))
    call = proposal["ready_call"]
    if call["to"].lower() != proposal["vault"].lower():
        raise UserError(f"the API's call goes to {call['to']}, not the vault {proposal['vault']}")
    data = bytes.fromhex(call["data"].removeprefix("0x"))
    result = transact(env, proposal["vault"], data, action=f"execute {digest}")
    verb = "would execute" if env.dry_run else "executed"
    env.emit(public(result) | {"digest": digest}, f"{verb} {digest}" + tx_line(result))


# ----------------------------------------------------------------------------- both groups


def _add_shared_commands(group: click.Group, kind: str, what: str) -> None:
    """sign, list and execute: the same for both kinds of proposal."""

    @group.command(
        name="sign", help=f"Add the account's signature to the {what} DIGEST (after showing it)."
    )
    @click.argument("digest")
    @command(signs=True, api=True)
    def sign(env: Env, digest: str) -> None:
        _sign(env, digest)

    @group.command(name="list", help=f"VAULT's {what}s, newest first.")
    @click.argument("vault_address", metavar="VAULT")
    @click.option("--status", type=click.Choice(STATUSES), default=None, help="Only these.")
    @command(api=True)
    def list_(env: Env, vault_address: str, status: str | None) -> None:
        _list(env, vault_address, kind, status)

    @group.command(
        name="execute",
        help=f"Send the approved {what} DIGEST to its vault (any account may pay the gas).",
    )
    @click.argument("digest")
    @command(signs=True, sends=True, api=True)
    def execute(env: Env, digest: str) -> None:
        _execute(env, digest)


_add_shared_commands(withdrawal, "withdrawal", "withdrawal proposal")
_add_shared_commands(config, "config", "configuration proposal")


# ----------------------------------------------------------------------------- helpers


def _require_same_terms(proposal: dict[str, Any], message: Any) -> None:
    """What is shown (the proposal's fields) must be what is signed (its EIP-712 message)."""
    shown = {"nonce": int(proposal["nonce"]), "deadline": proposal["deadline"]}
    if proposal["kind"] == "withdrawal":
        shown |= {
            "token": proposal["token"],
            "amount": int(proposal["amount"]),
            "to": proposal["to"],
        }
    else:
        shown["data"] = bytes.fromhex(str(proposal["data"]).removeprefix("0x"))
    signed = {name: getattr(message, name, None) for name in shown}
    if signed != shown:
        raise UserError(f"the API shows {shown} but asks to sign {signed}: nothing was signed")


def _require_owner(env: Env, vault_address: str) -> None:
    if not env.view("CopyVault", vault_address, "isOwner", env.wallet.address):
        raise UserError(
            f"{env.wallet.address} ({env.wallet.alias}) is not an owner of {vault_address}"
        )


def _config_call(env: Env, function: str, arguments: tuple[str, ...]) -> bytes:
    fn = env.abi("CopyVault").fn(function)
    if len(arguments) != len(fn.input_types):
        names = " ".join(p["name"] for p in fn.item.get("inputs", [])) or "no arguments"
        raise UserError(f"{function} takes {len(fn.input_types)} argument(s): {names}")
    values = [_config_value(env, t, a) for t, a in zip(fn.input_types, arguments, strict=True)]
    return fn.encode(*values)


def _config_value(env: Env, abi_type: str, text: str) -> Any:
    if abi_type == "address":
        return (
            env.token(text).address if not text.startswith("0x") else env.address(text, "address")
        )
    if abi_type == "bool":
        if text.lower() not in ("true", "false"):
            raise UserError(f"{text!r}: write true or false")
        return text.lower() == "true"
    if abi_type.startswith("uint"):
        return _uint(text)
    if abi_type.startswith("("):  # the Policy tuple
        parts = text.split(",")
        if len(parts) != abi_type.count(",") + 1:
            raise UserError(
                f"{text!r}: write the policy as {abi_type.count(',') + 1} numbers a,b,.."
            )
        return tuple(_uint(p) for p in parts)
    raise UserError(f"arguments of type {abi_type} are not supported here")


def _uint(text: str) -> int:
    if not text.strip().isdigit():
        raise UserError(f"{text!r} is not a whole number")
    return int(text)


def _proposal_text(env: Env, p: dict[str, Any]) -> str:
    if p["kind"] == "withdrawal":
        info = env.token(p["token"])
        what = f"withdraw {info.amount(int(p['amount']))} to {p['to']}"
    else:
        what = f"configuration call {describe_config_call(env, p['data'])}"
    signed = sum(1 for c in p.get("confirmations", []) if c.get("is_owner", True))
    deadline = datetime.fromtimestamp(p["deadline"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"  {what}",
        f"  vault {p['vault']}, nonce {p['nonce']}, deadline {deadline}",
        f"  status {p['status']}: "
        + (p.get("status_reason") or f"{signed} of {p['threshold']} owner signatures"),
    ]
    return "\n".join(lines)


def describe_config_call(env: Env, data_hex: str) -> str:
    """A configuration call as people read it: "setThreshold(3)", "unpause()"."""
    from eth_abi import decode

    from backend.cli.user.common import checksummed
    from backend.services.proposals import CONFIG_FUNCTIONS

    data = bytes.fromhex(data_hex.removeprefix("0x"))
    for name in CONFIG_FUNCTIONS:
        fn = env.abi("CopyVault").fn(name)
        if fn.selector == data[:4]:
            values = checksummed(decode(fn.input_types, data[4:]))
            return f"{name}({', '.join(str(v) for v in values)})"
    return data_hex
