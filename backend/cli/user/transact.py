"""Sending a user's transaction: simulate it first (eth_call from the account), refuse it with the
contract's decoded custom error when it would revert, estimate its gas, then (unless --dry-run)
sign it with the Ape account, send it and wait for its receipt."""

from __future__ import annotations

from typing import Any, Final

from backend.cli.user.common import Env
from backend.cli.user.units import UserError

# What to do about the errors a user meets most; the decoded error itself comes first.
_HINTS: Final = {
    "NotOwner": "the account is not an owner of this vault",
    "NotOwnerOrGuardian": "the account is neither an owner of this vault nor the guardian",
    "SignerNotOwner": "a signer is not an owner of this vault",
    "ERC20InsufficientBalance": "the account holds less of the token than the amount",
    "ERC20InsufficientAllowance": "the vault may not take that much of the token yet",
    "DelegateNotFound": "that address is not a delegate of this leader",
    "InvalidExpiry": "the expiry must be in the future",
    "OracleMismatch": "the factory's default oracle changed; run the command again",
    "DeadlineExpired": "the proposal's deadline passed; propose it again",
}


def describe_revert(data: bytes | None) -> str:
    """A revert as its custom error with named arguments: "NotOwner(caller=0xAb..)", with a hint."""
    from eth_abi import decode

    from backend.chain.artifacts import BUILTIN_ERRORS, canonical_type, error_selector, load

    if not data or len(data) < 4:
        return "reverted without a reason"
    if data[:4] in BUILTIN_ERRORS:
        (value,) = decode(["string" if data[:4].hex() == "08c379a0" else "uint256"], data[4:])
        return f"{BUILTIN_ERRORS[data[:4]].split('(')[0]}({value!r})"
    artifacts = load()
    for name in artifacts.names():
        for item in artifacts.get(name).errors():
            if error_selector(item) == data[:4]:
                return _with_arguments(item, data[4:], decode, canonical_type)
    return f"unknown error 0x{data[:4].hex()}"


def _with_arguments(item: dict[str, Any], body: bytes, decode: Any, canonical_type: Any) -> str:
    inputs = item.get("inputs", [])
    try:
        values = decode([canonical_type(p) for p in inputs], body)
    except Exception:  # noqa: BLE001 - malformed data: name the error without its arguments
        values = ["?"] * len(inputs)
    pairs = enumerate(zip(inputs, values, strict=True))
    args = ", ".join(f"{p['name'] or i}={_show(p['type'], v)}" for i, (p, v) in pairs)
    text = f"{item['name']}({args})"
    hint = _HINTS.get(item["name"])
    return f"{text}: {hint}" if hint else text


def _show(abi_type: str, value: Any) -> str:
    from eth_utils import to_checksum_address

    if abi_type == "address" and isinstance(value, str):
        return to_checksum_address(value)
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def call(env: Env, to: str, data: bytes, *, sender: str | None = None) -> bytes:
    """eth_call; a revert becomes a UserError naming the decoded custom error."""
    from backend.exceptions import RpcError

    request: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
    if sender is not None:
        request["from"] = sender
    try:
        result = env.client.request("eth_call", [request, "latest"])
    except RpcError as exc:
        if exc.revert_data is None and "revert" not in str(exc).lower():
            raise
        raise UserError(f"the call would revert: {describe_revert(exc.revert_data)}") from None
    return bytes.fromhex(result.removeprefix("0x"))


def transact(env: Env, to: str, data: bytes, *, action: str) -> dict[str, Any]:
    """Simulate, then send (unless --dry-run) `data` to `to` from the account. The result says what
    was (or would be) done: action, from, to, gas; and after sending the transaction and block."""
    from backend.exceptions import RpcError

    sender = env.wallet.address
    returned = call(env, to, data, sender=sender)
    request = {"from": sender, "to": to, "data": "0x" + data.hex()}
    try:
        gas = int(env.client.request("eth_estimateGas", [request]), 16)
    except RpcError as exc:
        raise UserError(f"{action} would fail: {describe_revert(exc.revert_data)}") from None
    result: dict[str, Any] = {"action": action, "from": sender, "to": to, "gas_estimate": gas}
    if env.dry_run:
        return result | {"dry_run": True, "returned": "0x" + returned.hex()}
    receipt = _send(env, to, data, gas)
    return result | {
        "dry_run": False,
        "tx_hash": receipt["transactionHash"],
        "block_number": int(receipt["blockNumber"], 16),
        "gas_used": int(receipt["gasUsed"], 16),
        "receipt": receipt,
    }


def simulate_in_order(env: Env, calls: list[tuple[str, bytes, str]]) -> list[dict[str, Any]] | None:
    """Dry-run transactions that build on each other (a deposit after its approval) in one
    simulated block (eth_simulateV1), from the account: each one's gas, or a UserError naming the
    first that would revert. None when the node cannot simulate blocks."""
    from backend.exceptions import RpcError
    from backend.relayer.simulate import _revert_data, _unsupported

    sender = env.wallet.address
    block = {
        "calls": [{"from": sender, "to": to, "data": "0x" + data.hex()} for to, data, _ in calls]
    }
    try:
        simulated = env.client.request(
            "eth_simulateV1", [{"blockStateCalls": [block], "validation": False}, "latest"]
        )
    except RpcError as exc:
        if _unsupported(exc):
            return None
        raise
    results = []
    for (to, _, action), outcome in zip(calls, simulated[0]["calls"], strict=True):
        if int(outcome.get("status", "0x0"), 16) != 1:
            raise UserError(f"{action} would fail: {describe_revert(_revert_data(outcome))}")
        gas = int(outcome.get("gasUsed", "0x0"), 16)
        results.append({"action": action, "from": sender, "to": to, "gas_estimate": gas})
    return [r | {"dry_run": True} for r in results]


def _send(env: Env, to: str, data: bytes, gas: int) -> dict[str, Any]:
    """Sign with the Ape account (through the same sender the backend's own keys use), send, and
    wait for a successful receipt."""
    from backend.chain.tx import SignerSender, padded_gas

    env.note(f"sending from {env.wallet.address} ...")
    return SignerSender(env.client, env.wallet).send(to, data, gas=padded_gas(gas))


def public(result: Any) -> Any:
    """A result for --json: without the raw receipt (a script needs its hash and block only)."""
    if isinstance(result, list):
        return [public(r) for r in result]
    return {k: v for k, v in result.items() if k not in ("receipt", "returned")}


def tx_line(result: dict[str, Any]) -> str:
    """One indented line for people about a simulated or sent transaction."""
    if result.get("dry_run"):
        return f"\n  {result['action']}: simulated, gas estimate {result['gas_estimate']:,}"
    return (
        f"\n  {result['action']}: tx {result['tx_hash']} (block {result['block_number']}, "
        f"gas {result['gas_used']:,})"
    )
