"""`copyvault intent ...`: a leader's (or a delegate's) trade intents. The API prepares the
TradeIntent document on the registry's domain; the account signs it here after checking it
(signing.py); the signed intent is submitted to the API, which relays it into every follower."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any, Final

import click

from backend.cli.user.common import Env, command, read_json_input
from backend.cli.user.signing import checked_document, sign_checked
from backend.cli.user.units import (
    UserError,
    format_amount,
    format_price,
    parse_bps,
    parse_duration,
    parse_price,
)

FINAL_STATUSES: Final = ("done", "rejected")
POLL_SECONDS: Final = 0.5


@click.group()
def intent() -> None:
    """A leader's trade intents: sign, submit, status."""


@intent.command()
@click.option("--token-in", required=True, help="Token each vault sells (symbol or address).")
@click.option("--token-out", required=True, help="Token each vault buys (symbol or address).")
@click.option(
    "--fraction", required=True, help="Share of each vault's token-in: 10% or 1000 (bps)."
)
@click.option(
    "--min-price",
    default="0",
    show_default=True,
    help="Least token-out per token-in, as read (2900 = 2900 USDC per WETH); 0: no own limit.",
)
@click.option(
    "--nonce", type=int, default=None, help="Intent nonce (default: a random unused one)."
)
@click.option("--deadline", default="1h", show_default=True, help="How long it may be mirrored.")
@click.option(
    "--leader",
    "leader_address",
    default=None,
    help="Leader (default: the account; a delegate signs for its leader).",
)
@click.option("--venue", default=None, help="Venue address (default: the deployment's).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the signed intent here (default: print it).",
)
@click.option("--submit", is_flag=True, help="Submit it to the API right after signing.")
@command(signs=True, api=True)
def sign(env: Env, **opts: Any) -> None:
    """Sign a TradeIntent prepared by the API; print (or --out) the signed intent as JSON."""
    message_values = _intent_values(env, opts)
    _require_signer(env, message_values["leader"])
    prepared = env.api().post("/v1/intents/prepare", _request_body(message_values))
    domain, message, digest = checked_document(
        env, prepared, contract=env.deployment.registry, expected=message_values
    )
    from backend.api.schemas import intent_submission_body

    signed = intent_submission_body(message, bytes.fromhex(sign_checked(env, domain, message)[2:]))
    if opts["out"] is not None:
        opts["out"].write_text(json.dumps(signed, indent=2) + "\n")
        env.note(f"signed intent {digest} written to {opts['out']}")
    if opts["submit"]:
        _submit(env, signed)
    elif opts["out"] is None or env.as_json:
        env.emit(signed | {"digest": digest}, json.dumps(signed, indent=2))


def _intent_values(env: Env, opts: dict[str, Any]) -> dict[str, Any]:
    """The TradeIntent members (snake_case) the user asked for."""
    token_in, token_out = env.token(opts["token_in"]), env.token(opts["token_out"])
    leader = opts["leader_address"] or env.wallet.address
    venue = opts["venue"] or env.deployment.contracts.get("UniswapV2Venue")
    if venue is None:
        raise UserError("the deployment names no venue: pass --venue ADDRESS")
    fraction = parse_bps(opts["fraction"], "--fraction")
    if fraction == 0:
        raise UserError("--fraction must be more than 0")
    return {
        "leader": env.address(leader, "--leader"),
        "venue": env.address(venue, "--venue"),
        "token_in": token_in.address,
        "token_out": token_out.address,
        "fraction_bps": fraction,
        "min_price": parse_price(opts["min_price"], token_in.decimals, token_out.decimals),
        # Nonces are a bitmap, not a sequence: any unused number works; 64 random bits never clash.
        "nonce": opts["nonce"] if opts["nonce"] is not None else secrets.randbits(64),
        "deadline": env.timestamp() + parse_duration(opts["deadline"]),
    }


def _require_signer(env: Env, leader: str) -> None:
    """Refuse before signing what the registry would refuse: a signer that is neither the leader
    nor one of its live delegates."""
    signer = env.wallet.address
    if not env.view(
        "LeaderRegistry", env.deployment.registry, "isAuthorizedSigner", leader, signer
    ):
        raise UserError(
            f"wrong signer: {signer} ({env.wallet.alias}) is neither {leader} nor a live delegate "
            "of it (`copyvault leader delegate` appoints one)"
        )


def _request_body(values: dict[str, Any]) -> dict[str, Any]:
    """uint256 members travel as decimal strings (docs/api.md, Conventions)."""
    return values | {"min_price": str(values["min_price"]), "nonce": str(values["nonce"])}


# ----------------------------------------------------------------------------- submit


@intent.command()
@click.argument("source", default="-", metavar="FILE")
@command(api=True)
def submit(env: Env, source: str) -> None:
    """Submit a signed intent (the JSON `intent sign` wrote; FILE or - for standard input)."""
    signed = read_json_input(source)
    if not isinstance(signed, dict):
        raise UserError(f"{source} does not hold a signed intent (a JSON object)")
    _submit(env, {k: v for k, v in signed.items() if k != "digest"})


def _submit(env: Env, signed: dict[str, Any]) -> None:
    answer = env.api().post("/v1/intents", signed)
    env.emit(answer, f"submitted {answer['digest']}: {answer['status']}")


# ----------------------------------------------------------------------------- status


@intent.command()
@click.argument("digest")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=0,
    help="Wait up to this many seconds for the intent to be done (or rejected).",
)
@command(api=True)
def status(env: Env, digest: str, wait_seconds: float) -> None:
    """What the relayer did with intent DIGEST: per vault mirrored (amounts, price) or skipped."""
    answer = env.api().get(f"/v1/intents/{digest}")
    end = time.monotonic() + wait_seconds
    while answer["status"] not in FINAL_STATUSES and time.monotonic() < end:
        time.sleep(POLL_SECONDS)
        answer = env.api().get(f"/v1/intents/{digest}")
    if answer["status"] not in FINAL_STATUSES and wait_seconds:
        env.note(f"still {answer['status']} after {wait_seconds:g}s")
    env.emit(_with_readable_prices(env, answer), _status_text(env, answer))


def _with_readable_prices(env: Env, answer: dict[str, Any]) -> dict[str, Any]:
    """The API's answer plus `price_readable` where a raw 1e18-scaled price is shown."""
    unit = _price_unit(env, answer)
    out = dict(answer)
    out["min_price_readable"] = _price(env, answer, answer["min_price"]) + unit
    out["vaults"] = [
        v | ({"price_readable": _price(env, answer, v["price"]) + unit} if v.get("price") else {})
        for v in answer["vaults"]
    ]
    return out


def _price(env: Env, answer: dict[str, Any], raw: str | int) -> str:
    token_in, token_out = env.token(answer["token_in"]), env.token(answer["token_out"])
    return format_price(int(raw), token_in.decimals, token_out.decimals)


def _price_unit(env: Env, answer: dict[str, Any]) -> str:
    return f" {env.token(answer['token_out']).symbol} per {env.token(answer['token_in']).symbol}"


def _status_text(env: Env, a: dict[str, Any]) -> str:
    token_in, token_out = env.token(a["token_in"]), env.token(a["token_out"])
    unit = _price_unit(env, a)
    limit = "none" if int(a["min_price"]) == 0 else _price(env, a, a["min_price"]) + unit
    lines = [
        f"intent {a['digest']}: {a['status']}" + (f" ({a['error']})" if a.get("error") else ""),
        f"  sell {a['fraction_bps'] / 100:g}% of {token_in.symbol} for {token_out.symbol}, "
        f"min price {limit}",
        f"  vaults: {a['vaults_mirrored']} mirrored, {a['vaults_skipped']} skipped, "
        f"{a['vaults_pending']} pending",
    ]
    for v in a["vaults"]:
        if v["status"] == "mirrored" and v.get("amount_in") is not None:
            sold = format_amount(int(v["amount_in"]), token_in.decimals)
            bought = format_amount(int(v["amount_out"]), token_out.decimals)
            price = _price(env, a, v["price"]) + unit if v.get("price") else "?"
            lines.append(
                f"  {v['vault']} mirrored: {sold} {token_in.symbol} -> {bought} "
                f"{token_out.symbol} at {price}"
            )
        else:
            lines.append(
                f"  {v['vault']} {v['status']}" + (f": {v['reason']}" if v.get("reason") else "")
            )
    return "\n".join(lines)
