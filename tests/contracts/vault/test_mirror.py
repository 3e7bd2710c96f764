"""CopyVault.mirror: a leader's signed intent traded inside the owners' limits (SPEC §1.3)."""

from __future__ import annotations

import ape


def test_mirror__valid_intent__sells_fraction_and_receives_at_least_bound(
    funded_vault, weth, usdc, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent(fraction_bps=1_000))
    weth_before, usdc_before = weth.balanceOf(funded_vault), usdc.balanceOf(funded_vault)

    receipt = funded_vault.mirror(intent, sig, sender=relayer)

    event = receipt.decode_logs(funded_vault.Mirrored)[0]
    assert event.amountIn == weth_before // 10
    assert weth.balanceOf(funded_vault) == weth_before - event.amountIn
    assert usdc.balanceOf(funded_vault) == usdc_before + event.amountOut
    # 1 WETH into a 1,000 WETH pool at $3,000: 0.3 % fee and ~0.1 % impact, inside the 1 % bound.
    assert event.oracleOut == 3_000 * 10**6
    assert event.oracleOut * 99 // 100 <= event.amountOut < event.oracleOut
    assert funded_vault.isIntentExecuted(intent[0], intent[6])


def test_mirror__same_intent_twice__reverts_already_executed(
    funded_vault, make_intent, sign_intent, relayer
):
    intent, sig = sign_intent(make_intent())
    funded_vault.mirror(intent, sig, sender=relayer)
    with ape.reverts(funded_vault.IntentAlreadyExecuted):
        funded_vault.mirror(intent, sig, sender=relayer)
