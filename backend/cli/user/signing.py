"""Signing what the API prepared, without trusting it: the prepared EIP-712 document must be one of
copyvault's types, on this chain and the expected contract, with exactly the values the user
asked for, and must hash to the digest the API named. Only then does the account sign it."""

from __future__ import annotations

from typing import Any

from backend.cli.user.common import Env
from backend.cli.user.units import UserError


def checked_document(
    env: Env, prepared: dict[str, Any], *, contract: str, expected: dict[str, Any]
) -> tuple[Any, Any, str]:
    """(domain, message, digest) of `prepared` (`{digest, typed_data}`), refused unless the
    document is on this chain and `contract`, its message has the `expected` members (snake_case
    names, values as the message holds them) and its digest is the one announced."""
    from backend.chain import eip712

    try:
        domain, message = eip712.parse_typed_data(prepared["typed_data"])
    except (KeyError, TypeError, eip712.InvalidTypedDataError) as exc:
        raise UserError(
            f"the API prepared something that is not a copyvault document: {exc}"
        ) from None
    if domain.chain_id != env.client.chain_id() or domain.verifying_contract != contract:
        raise UserError(
            f"the API prepared a document for chain {domain.chain_id} / "
            f"{domain.verifying_contract}, expected chain {env.client.chain_id()} / {contract}: "
            "check --api and --rpc"
        )
    for name, value in expected.items():
        if getattr(message, name) != value:
            raise UserError(
                f"the API prepared {name}={getattr(message, name)!r}, not {value!r} as asked: "
                "nothing was signed"
            )
    digest = "0x" + eip712.digest(domain, message).hex()
    announced = prepared.get("digest")
    if announced is not None and str(announced).lower() != digest:
        raise UserError(f"the API announced digest {announced}, the document hashes to {digest}")
    return domain, message, digest


def sign_checked(env: Env, domain: Any, message: Any) -> str:
    """The account's signature of the checked message (0x-hex), verified to recover the account."""
    from backend.chain import eip712

    signature = env.wallet.sign_typed_data(eip712.typed_data(domain, message))
    if eip712.recover(domain, message, signature) != env.wallet.address:
        raise UserError(f"account {env.wallet.alias} signed with another key than its address's")
    return "0x" + signature.hex()
