// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TradeIntent} from "./ICopyTypes.sol";

/// @title ICopyRouter
/// @notice Mirrors one signed intent into many vaults in one transaction (SPEC §1.3). The router never
///         holds tokens between calls.
interface ICopyRouter {
    /// @notice `vault` could not take the intent; `reason` is the selector of the error the vault raised.
    event MirrorSkipped(address indexed vault, bytes32 indexed intentDigest, bytes4 reason);
    /// @notice A batch finished: `mirrored` vaults traded, `skipped` did not.
    event BatchMirrored(bytes32 indexed intentDigest, uint256 mirrored, uint256 skipped);

    /// @notice Thrown when the vault list is empty.
    error EmptyBatch();
    /// @notice Reason given (as a selector) for an address that is not a vault of this deployment.
    error NotAVault(address account);

    /// @notice Each vault mirrors the intent on its own, one swap per vault (the sequential reference mode).
    ///         A vault that cannot take the trade is skipped with `MirrorSkipped`; the others proceed.
    /// @return mirrored How many vaults traded.
    function mirrorBatch(TradeIntent calldata intent, bytes calldata signature, address[] calldata vaults)
        external
        returns (uint256 mirrored);
}
