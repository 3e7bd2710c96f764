"""CopyRouter.mirrorAggregated: one swap for the batch, one price for every follower."""

from __future__ import annotations

from tests.conftest import fund


def test_mirror_aggregated__mixed_sizes__every_vault_gets_the_same_price(
    create_vault, router, weth, usdc, make_intent, sign_intent, relayer, deployer
):
    vaults = [create_vault() for _ in range(4)]
    for i, v in enumerate(vaults):
        fund(v, weth, (i + 1) * 3 * 10**18 + i, deployer)
    intent, sig = sign_intent(make_intent(fraction_bps=2_000))
    before = [(weth.balanceOf(v), usdc.balanceOf(v)) for v in vaults]

    receipt = router.mirrorAggregated(intent, sig, vaults, sender=relayer)

    swap = receipt.decode_logs(router.AggregatedSwap)[0]
    assert swap.mirrored == 4
    ins = [b[0] - weth.balanceOf(v) for b, v in zip(before, vaults, strict=True)]
    outs = [usdc.balanceOf(v) - b[1] for b, v in zip(before, vaults, strict=True)]
    assert sum(ins) == swap.totalIn and sum(outs) == swap.totalOut
    for a_in, a_out in zip(ins, outs, strict=True):
        exact = swap.totalOut * a_in // swap.totalIn
        assert exact <= a_out <= exact + 1
    assert weth.balanceOf(router) == 0 and usdc.balanceOf(router) == 0
    print("gas", receipt.gas_used)
