"""`copyvault vault ...`: create a vault, deposit, pause, stop copying, resume, read its state.

Pausing and stopping take one owner's key (stopping is never held back); resuming increases risk,
so it is a configuration change the owners' threshold approves (`copyvault config ...`).
"""

from __future__ import annotations

import secrets
from typing import Any

import click

from backend.cli.user.common import Env, command
from backend.cli.user.transact import public, simulate_in_order, transact, tx_line
from backend.cli.user.units import UserError, parse_amount, parse_bps, parse_duration


@click.group()
def vault() -> None:
    """A follower's vault: create, deposit, pause, stop, resume, status."""


# ----------------------------------------------------------------------------- create


@vault.command()
@click.option("--leader", required=True, help="Address of the leader the vault copies.")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    help="An owner address (repeat for M-of-N). Default: the signing account alone.",
)
@click.option("--threshold", type=int, default=None, help="Owner approvals needed. Default: all.")
@click.option(
    "--asset",
    "assets",
    multiple=True,
    help="A token the vault may hold and trade (symbol or address; repeat). Default: the "
    "deployment's tokens.",
)
@click.option(
    "--venue",
    "venues",
    multiple=True,
    help="A venue address the vault may trade on (repeat). Default: the deployment's venue.",
)
@click.option("--max-fraction", default="50%", show_default=True, help="Largest share per trade.")
@click.option("--max-slippage", default="1%", show_default=True, help="Worst price below oracle.")
@click.option("--max-oracle-age", default="1h", show_default=True, help="Oldest usable price.")
@click.option("--max-trades-per-day", type=int, default=10, show_default=True)
@click.option(
    "--loss-budget", default="0%", show_default=True, help="Decaying loss budget; 0: off."
)
@click.option("--no-guardian", is_flag=True, help="Refuse the platform guardian's emergency pause.")
@click.option("--salt", type=int, default=None, help="CREATE2 salt (default: random).")
@command(signs=True, sends=True)
def create(env: Env, leader: str, owners: tuple[str, ...], threshold: int | None, **opts: Any):
    """Create a vault owned by --owner addresses (M-of-N), following --leader."""
    owner_list = [env.address(o, "--owner") for o in owners] or [env.wallet.address]
    threshold = len(owner_list) if threshold is None else threshold
    if not 1 <= threshold <= len(owner_list):
        raise UserError(f"--threshold {threshold}: between 1 and the {len(owner_list)} owners")
    d = env.deployment
    assets = [env.token(a).address for a in opts["assets"]] or [
        t.address for t in d.tokens.values()
    ]
    venues = [env.address(v, "--venue") for v in opts["venues"]] or _default_venues(d)
    policy = _policy(opts)
    oracle = env.view("VaultFactory", d.factory, "defaultOracle")
    salt = (opts["salt"] if opts["salt"] is not None else secrets.randbits(256)).to_bytes(32, "big")
    args = (owner_list, threshold, env.address(leader, "--leader"), policy, oracle)
    args += (assets, venues, not opts["no_guardian"], salt)
    data = env.abi("VaultFactory").call_data("createVault", *args)
    result = transact(env, d.factory, data, action="create vault")
    created = _created_vault(env, result)
    result |= {"vault": created, "owners": owner_list, "threshold": threshold, "policy": policy}
    verb = "would create" if env.dry_run else "created"
    env.emit(
        public(result),
        f"{verb} vault {created} ({threshold}-of-{len(owner_list)}, following {args[2]})"
        + tx_line(result),
    )


def _created_vault(env: Env, result: dict[str, Any]) -> str:
    """The new vault: from the receipt's VaultCreated log, or what the simulation returned."""
    from eth_abi import decode
    from eth_utils import to_checksum_address

    if result["dry_run"]:
        return to_checksum_address(decode(["address"], bytes.fromhex(result["returned"][2:]))[0])
    from backend.chain.actions import Actions

    return Actions(env.client, env.deployment).created_vaults(result["receipt"])[0]


def _default_venues(deployment: Any) -> list[str]:
    venue = deployment.contracts.get("UniswapV2Venue")
    if venue is None:
        raise UserError("the deployment names no venue: pass --venue ADDRESS")
    return [venue]


def _policy(opts: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """(maxFractionBps, maxSlippageBps, maxOracleAge, maxTradesPerDay, lossBudgetBps)."""
    return (
        parse_bps(opts["max_fraction"], "--max-fraction"),
        parse_bps(opts["max_slippage"], "--max-slippage"),
        parse_duration(opts["max_oracle_age"]),
        opts["max_trades_per_day"],
        parse_bps(opts["loss_budget"], "--loss-budget"),
    )


# ----------------------------------------------------------------------------- deposit


@vault.command()
@click.argument("vault_address", metavar="VAULT")
@click.option("--token", required=True, help="Token symbol (WETH, USDC) or address.")
@click.option("--amount", required=True, help="Amount in token units, e.g. 12.5.")
@command(signs=True, sends=True)
def deposit(env: Env, vault_address: str, token: str, amount: str) -> None:
    """Deposit --amount of --token from the account into VAULT (approving it first if needed)."""
    vault_address = env.address(vault_address, "VAULT")
    info = env.token(token)
    raw = parse_amount(amount, info.decimals, info.symbol)
    holder = env.wallet.address
    held = env.view("TestToken", info.address, "balanceOf", holder)
    if held < raw:
        raise UserError(
            f"insufficient balance: {holder} holds {info.amount(held)}, the deposit is "
            f"{info.amount(raw)}"
        )
    approve = env.abi("TestToken").call_data("approve", vault_address, raw)
    deposit_data = env.abi("CopyVault").call_data("deposit", info.address, raw)
    needs_approval = env.view("TestToken", info.address, "allowance", holder, vault_address) < raw
    calls = [(info.address, approve, f"approve {info.amount(raw)}")] if needs_approval else []
    calls.append((vault_address, deposit_data, f"deposit {info.amount(raw)}"))
    steps = _deposit_steps(env, calls)
    verb = "would deposit" if env.dry_run else "deposited"
    env.emit(
        {"vault": vault_address, "token": info.address, "amount": str(raw), "steps": public(steps)},
        f"{verb} {info.amount(raw)} into {vault_address}" + "".join(tx_line(s) for s in steps),
    )


def _deposit_steps(env: Env, calls: list[tuple[str, bytes, str]]) -> list[dict[str, Any]]:
    """Send (or with --dry-run simulate) the approval, if needed, then the deposit. A dry run
    simulates both in one block, so the deposit is checked as if the approval were mined."""
    if env.dry_run and len(calls) > 1:
        simulated = simulate_in_order(env, calls)
        if simulated is not None:
            return simulated
        env.note("this node cannot simulate a block: the deposit is checked once approved")
        return [transact(env, *calls[0][:2], action=calls[0][2])]
    return [transact(env, to, data, action=action) for to, data, action in calls]


# ----------------------------------------------------------------------------- pause / stop


def _owner_action(env: Env, vault_address: str, fn: str, effect: str) -> None:
    vault_address = env.address(vault_address, "VAULT")
    data = env.abi("CopyVault").call_data(fn)
    result = transact(env, vault_address, data, action=f"{fn} {vault_address}")
    verb = "would" if env.dry_run else "done:"
    env.emit(public(result | {"vault": vault_address}), f"{verb} {effect}" + tx_line(result))


@vault.command()
@click.argument("vault_address", metavar="VAULT")
@command(signs=True, sends=True)
def pause(env: Env, vault_address: str) -> None:
    """Pause VAULT: no trades and no deposits until the owners resume it (one owner's key)."""
    _owner_action(env, vault_address, "pause", f"pause {vault_address}")


@vault.command()
@click.argument("vault_address", metavar="VAULT")
@command(signs=True, sends=True)
def stop(env: Env, vault_address: str) -> None:
    """Stop copying the leader: VAULT keeps its funds, takes no more trades (one owner's key)."""
    _owner_action(env, vault_address, "stopCopying", f"stop copying in {vault_address}")


@vault.command()
@click.argument("vault_address", metavar="VAULT")
@click.option("--deadline", default="1d", show_default=True, help="How long owners have to sign.")
@command(signs=True, api=True)
def resume(env: Env, vault_address: str, deadline: str) -> None:
    """Propose to undo a pause (unpause) or else a stop (startCopying); the owners' threshold
    approves it: co-owners run `copyvault config sign`, anyone then `copyvault config execute`."""
    from backend.cli.user.proposals import propose_config

    vault_address = env.address(vault_address, "VAULT")
    if env.view("CopyVault", vault_address, "paused"):
        fn = "unpause"
    elif not env.view("CopyVault", vault_address, "copying"):
        fn = "startCopying"
    else:
        raise UserError(f"{vault_address} is neither paused nor stopped: nothing to resume")
    propose_config(env, vault_address, env.abi("CopyVault").call_data(fn), deadline)


# ----------------------------------------------------------------------------- status


@vault.command()
@click.argument("vault_address", metavar="VAULT")
@command()
def status(env: Env, vault_address: str) -> None:
    """VAULT as the chain holds it now: owners, threshold, leader, flags, policy, balances."""
    vault_address = env.address(vault_address, "VAULT")
    if not env.view("VaultFactory", env.deployment.factory, "isVault", vault_address):
        raise UserError(f"{vault_address} is not a vault of this deployment's factory")
    state = _read_state(env, vault_address)
    env.emit(state, _status_text(state))


def _read_state(env: Env, v: str) -> dict[str, Any]:
    def read(fn: str, *args: Any) -> Any:
        return env.view("CopyVault", v, fn, *args)

    fraction, slippage, age, per_day, loss = read("policy")
    balances = []
    for token in env.deployment.tokens.values():
        raw = env.view("TestToken", token.address, "balanceOf", v)
        info = env.token(token.address)
        balances.append(
            {
                "token": info.address,
                "symbol": info.symbol,
                "raw": str(raw),
                "amount": info.amount(raw),
            }
        )
    return {
        "vault": v,
        "owners": list(read("getOwners")),
        "threshold": read("threshold"),
        "leader": read("leader"),
        "next_nonce": read("nonce"),
        "paused": read("paused"),
        "copying": read("copying"),
        "guardian_accepted": read("guardianAccepted"),
        "oracle": read("oracle"),
        "policy": {
            "max_fraction_bps": fraction,
            "max_slippage_bps": slippage,
            "max_oracle_age_seconds": age,
            "max_trades_per_day": per_day,
            "loss_budget_bps": loss,
        },
        "trades_today": read("tradesToday"),
        "balances": balances,
    }


def _status_text(s: dict[str, Any]) -> str:
    p = s["policy"]
    state = "paused" if s["paused"] else ("copying" if s["copying"] else "stopped copying")
    lines = [
        f"vault     {s['vault']}  ({state})",
        f"owners    {s['threshold']} of {len(s['owners'])}: " + ", ".join(s["owners"]),
        f"leader    {s['leader']}",
        f"nonce     {s['next_nonce']} (next owner operation)",
        f"policy    max {p['max_fraction_bps'] / 100:g}% per trade, slippage "
        f"{p['max_slippage_bps'] / 100:g}%, oracle age {p['max_oracle_age_seconds']}s, "
        f"{p['max_trades_per_day']} trades/day ({s['trades_today']} today), loss budget "
        f"{p['loss_budget_bps'] / 100:g}%",
        f"guardian  {'may pause' if s['guardian_accepted'] else 'refused'}",
    ]
    lines += [f"balance   {b['amount']}" for b in s["balances"]]
    return "\n".join(lines)
