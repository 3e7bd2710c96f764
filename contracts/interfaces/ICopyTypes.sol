// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice A vault owners' risk settings (docs/protocol.md §1.1).
/// @dev Packed into one storage slot together with the vault's oracle address.
struct Policy {
    /// Largest share, in basis points, of the vault's `tokenIn` balance one intent may trade (1..10000).
    uint16 maxFractionBps;
    /// Worst execution price accepted, in basis points below the oracle quote (0..9999).
    uint16 maxSlippageBps;
    /// Seconds after which an oracle answer is stale (at least 1).
    uint32 maxOracleAge;
    /// Mirrored trades per UTC day (at least 1).
    uint16 maxTradesPerDay;
    /// Cumulative execution loss against the oracle, in basis points, decaying linearly over 24 h (0 = off).
    uint16 lossBudgetBps;
}

/// @notice A leader's signed order to trade, mirrored into every vault that follows the leader.
/// @dev EIP-712 type: TradeIntent(address leader,address venue,address tokenIn,address tokenOut,
///      uint16 fractionBps,uint256 minPrice,uint256 nonce,uint256 deadline), verified by the LeaderRegistry.
struct TradeIntent {
    address leader;
    address venue;
    address tokenIn;
    address tokenOut;
    /// Share of each vault's `tokenIn` balance to sell, in basis points (1..10000).
    uint16 fractionBps;
    /// Least `tokenOut` per `tokenIn`, 1e18-scaled in raw token units (the leader's limit price).
    uint256 minPrice;
    /// Unordered nonce (bitmap, as Permit2): executes at most once per vault.
    uint256 nonce;
    /// Last second (inclusive) at which the intent may execute.
    uint256 deadline;
}
