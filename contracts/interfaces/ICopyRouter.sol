// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TradeIntent} from "./ICopyTypes.sol";

/// @title ICopyRouter
/// @notice Mirrors one signed intent into many vaults in one transaction (docs/protocol.md §1.3). The router
///         never holds tokens between calls.
interface ICopyRouter {
    /// @notice `vault`, a vault of this factory, could not take the intent; `reason` is the selector of the error
    ///         the vault raised (zero for a revert without data). Addresses in the list that are not vaults of this
    ///         factory are ignored: they get no event.
    event MirrorSkipped(address indexed vault, bytes32 indexed intentDigest, bytes4 reason);
    /// @notice A batch finished: `mirrored` vaults traded, `skipped` vaults of this factory did not (one per
    ///         MirrorSkipped; addresses that are not its vaults are not counted).
    event BatchMirrored(bytes32 indexed intentDigest, uint256 mirrored, uint256 skipped);

    /// @notice Thrown when the vault list is empty.
    error EmptyBatch();
    /// @notice mirrorAggregated: the platform does not allow the intent's venue (checked once for the batch).
    error VenueNotAllowed(address venue);
    /// @notice Thrown when the transaction's gas cannot give the next vault its fixed call gas: raise the limit.
    error BatchOutOfGas();
    /// @notice Thrown (aggregated mode) when the vaults' pulls delivered `arrived` of `token` where they reported
    ///         `pulled`, short by more than the share-based rounding tolerance: a fee-on-transfer input, which this
    ///         mode does not support (docs/tokens.md). Nothing moves; mirror it with `mirrorBatch`.
    error UnsupportedInputToken(address token, uint256 arrived, uint256 pulled);
    /// @notice Reason given (as a selector) for a vault whose bound is not strictly below its share of the venue's
    ///         quoted output for the batch (one wei of margin for the rounding after other vaults are left out).
    error BoundAboveQuote(uint256 minOut, uint256 quotedShare);

    /// @notice One aggregated swap: `totalIn` sold for `totalOut`, shared pro rata among `mirrored` vaults.
    event AggregatedSwap(bytes32 indexed intentDigest, uint256 mirrored, uint256 totalIn, uint256 totalOut);

    /// @notice Each vault mirrors the intent on its own, one swap per vault (the sequential reference mode).
    ///         A vault that cannot take the trade is skipped with `MirrorSkipped`; the others proceed.
    /// @return mirrored How many vaults traded.
    function mirrorBatch(TradeIntent calldata intent, bytes calldata signature, address[] calldata vaults)
        external
        returns (uint256 mirrored);

    /// @notice One swap for the whole batch, output shared pro rata, so every vault pays the same price.
    ///         The signature is verified once; each vault still runs its own checks, and a vault that fails
    ///         one (or whose bound cannot hold at the venue's quote) is skipped with `MirrorSkipped`. Vault i
    ///         receives floor(totalOut * amountIn_i / totalIn); the remainder (fewer wei than vaults) goes one
    ///         wei each to the first vaults, so no dust stays in the router. If the realised price breaks a
    ///         remaining vault's bound, the whole call reverts. Fee-on-transfer input tokens are not supported in
    ///         this mode (the call reverts with `UnsupportedInputToken` and nothing moves): mirror them with
    ///         `mirrorBatch`. Share-based inputs (a wei or two short per transfer) are: the router swaps what
    ///         arrived and shares the output by the vaults' `amountIn` (docs/tokens.md).
    /// @return mirrored How many vaults traded.
    /// @return totalIn The batch's total `tokenIn`.
    /// @return totalOut The batch's total `tokenOut`.
    function mirrorAggregated(TradeIntent calldata intent, bytes calldata signature, address[] calldata vaults)
        external
        returns (uint256 mirrored, uint256 totalIn, uint256 totalOut);
}
