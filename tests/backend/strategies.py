"""Hypothesis strategies for copyvault's EIP-712 types, shared by the Python and JS signer tests."""

from __future__ import annotations

from hypothesis import strategies as st

from backend.chain import eip712
from backend.chain.eip712 import ConfigChange, Domain, TradeIntent, Withdrawal

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uint256s = st.one_of(st.integers(0, 2**256 - 1), st.sampled_from([0, 1, 2**255, 2**256 - 1]))
# Chain ids wallets can take: JSON numbers, so at most 2**53 - 1.
domains = st.builds(Domain, chain_id=st.integers(1, 2**53 - 1), verifying_contract=addresses)
messages = st.one_of(
    st.builds(
        TradeIntent,
        leader=addresses,
        venue=addresses,
        token_in=addresses,
        token_out=addresses,
        fraction_bps=st.integers(0, 2**16 - 1),
        min_price=uint256s,
        nonce=uint256s,
        deadline=uint256s,
    ),
    st.builds(
        Withdrawal,
        token=addresses,
        amount=uint256s,
        to=addresses,
        nonce=uint256s,
        deadline=uint256s,
    ),
    st.builds(ConfigChange, data=st.binary(max_size=300), nonce=uint256s, deadline=uint256s),
)
private_keys = st.integers(1, eip712.SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))
