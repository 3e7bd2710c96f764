// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICopyRouter} from "./interfaces/ICopyRouter.sol";
import {ICopyVault} from "./interfaces/ICopyVault.sol";
import {TradeIntent} from "./interfaces/ICopyTypes.sol";
import {ILeaderRegistry} from "./interfaces/ILeaderRegistry.sol";
import {IVaultFactory} from "./interfaces/IVaultFactory.sol";

/// @title CopyRouter
/// @notice Batch mirroring of one intent into many vaults. Deployed by the factory and fixed there.
contract CopyRouter is ICopyRouter, ReentrancyGuardTransient {
    IVaultFactory public immutable factory;
    ILeaderRegistry public immutable registry;

    constructor(IVaultFactory factory_, ILeaderRegistry registry_) {
        factory = factory_;
        registry = registry_;
    }

    /// @inheritdoc ICopyRouter
    function mirrorBatch(TradeIntent calldata intent, bytes calldata signature, address[] calldata vaults)
        external
        nonReentrant
        returns (uint256 mirrored)
    {
        if (vaults.length == 0) revert EmptyBatch();
        // A forged, expired or cancelled intent fails the whole batch rather than being skipped per vault.
        bytes32 digest = registry.checkIntent(intent, signature);
        for (uint256 i = 0; i < vaults.length; ++i) {
            address vault = vaults[i];
            if (!factory.isVault(vault)) {
                emit MirrorSkipped(vault, digest, NotAVault.selector);
                continue;
            }
            try ICopyVault(vault).mirror(intent, signature) returns (uint256, uint256) {
                // The vault emits Mirrored with the amounts; the router only counts.
                ++mirrored;
            } catch (bytes memory reason) {
                emit MirrorSkipped(vault, digest, _selectorOf(reason));
            }
        }
        emit BatchMirrored(digest, mirrored, vaults.length - mirrored);
    }

    /// @dev The error selector of revert data (zero for an empty revert, e.g. out of gas in the callee).
    function _selectorOf(bytes memory reason) private pure returns (bytes4 selector) {
        if (reason.length < 4) return bytes4(0);
        assembly ("memory-safe") {
            selector := mload(add(reason, 0x20))
        }
    }
}
