// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICopyRouter} from "./interfaces/ICopyRouter.sol";
import {ICopyVault} from "./interfaces/ICopyVault.sol";
import {TradeIntent} from "./interfaces/ICopyTypes.sol";
import {ILeaderRegistry} from "./interfaces/ILeaderRegistry.sol";
import {IVaultFactory} from "./interfaces/IVaultFactory.sol";
import {IVenue} from "./interfaces/IVenue.sol";

/// @title CopyRouter
/// @notice Batch mirroring of one intent into many vaults. Deployed by the factory and fixed there.
/// @dev Holds no tokens between calls: the aggregated mode hands out everything the swap returned.
contract CopyRouter is ICopyRouter, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

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

    /// @inheritdoc ICopyRouter
    function mirrorAggregated(TradeIntent calldata intent, bytes calldata signature, address[] calldata vaults)
        external
        nonReentrant
        returns (uint256 mirrored, uint256 totalIn, uint256 totalOut)
    {
        if (vaults.length == 0) revert EmptyBatch();
        bytes32 digest = registry.checkIntent(intent, signature);
        // amounts[i] is vault i's tokenIn in the batch; 0 marks a skipped vault.
        uint256[] memory amounts = _quoteVaults(intent, digest, vaults);
        totalIn = _pullVaults(intent, signature, digest, vaults, amounts);
        if (totalIn != 0) {
            totalOut = _swap(intent, totalIn);
            mirrored = _distribute(intent, vaults, amounts, totalIn, totalOut);
            emit AggregatedSwap(digest, mirrored, totalIn, totalOut);
        }
        emit BatchMirrored(digest, mirrored, vaults.length - mirrored);
    }

    /// @dev Phase 1, no state change: each vault's own checks and amounts, then the vaults whose bound
    ///      cannot hold at the venue's quote for the batch are left out. Leaving vaults out shrinks the
    ///      batch, which only improves an AMM's price for the rest, so one pass is enough.
    function _quoteVaults(TradeIntent calldata intent, bytes32 digest, address[] calldata vaults)
        private
        returns (uint256[] memory amounts)
    {
        amounts = new uint256[](vaults.length);
        uint256[] memory minOuts = new uint256[](vaults.length);
        uint256 estimatedIn;
        for (uint256 i = 0; i < vaults.length; ++i) {
            if (!factory.isVault(vaults[i])) {
                emit MirrorSkipped(vaults[i], digest, NotAVault.selector);
                continue;
            }
            try ICopyVault(vaults[i]).quoteAggregated(intent) returns (uint256 amountIn, uint256 minOut) {
                amounts[i] = amountIn;
                minOuts[i] = minOut;
                estimatedIn += amountIn;
            } catch (bytes memory reason) {
                emit MirrorSkipped(vaults[i], digest, _selectorOf(reason));
            }
        }
        if (estimatedIn == 0) return amounts;
        uint256 quotedOut = IVenue(intent.venue).quote(intent.tokenIn, intent.tokenOut, estimatedIn);
        for (uint256 i = 0; i < vaults.length; ++i) {
            if (amounts[i] == 0) continue;
            uint256 quotedShare = quotedOut * amounts[i] / estimatedIn;
            if (minOuts[i] > quotedShare) {
                amounts[i] = 0;
                emit MirrorSkipped(vaults[i], digest, BoundAboveQuote.selector);
            }
        }
    }

    /// @dev Phase 2: each remaining vault re-checks everything itself, marks the intent executed and sends
    ///      its tokenIn to the venue. A vault that now refuses (listed twice, say) is skipped.
    function _pullVaults(
        TradeIntent calldata intent,
        bytes calldata signature,
        bytes32 digest,
        address[] calldata vaults,
        uint256[] memory amounts
    ) private returns (uint256 totalIn) {
        for (uint256 i = 0; i < vaults.length; ++i) {
            if (amounts[i] == 0) continue;
            try ICopyVault(vaults[i]).pullAggregated(intent, signature) returns (uint256 pulled) {
                amounts[i] = pulled;
                totalIn += pulled;
            } catch (bytes memory reason) {
                amounts[i] = 0;
                emit MirrorSkipped(vaults[i], digest, _selectorOf(reason));
            }
        }
    }

    /// @dev Phase 3: one swap for the batch; the output is measured on the router's own balance.
    function _swap(TradeIntent calldata intent, uint256 totalIn) private returns (uint256 totalOut) {
        IERC20 tokenOut = IERC20(intent.tokenOut);
        uint256 before = tokenOut.balanceOf(address(this));
        IVenue(intent.venue).swap(intent.tokenIn, intent.tokenOut, totalIn, address(this));
        totalOut = tokenOut.balanceOf(address(this)) - before;
    }

    /// @dev Phase 4: vault i gets floor(totalOut * amountIn_i / totalIn); the remainder (fewer wei than vaults)
    ///      goes one wei each to the first vaults, so every vault's price is the same to within one wei and
    ///      nothing stays in the router. Each vault then checks its own balances against its bound.
    function _distribute(
        TradeIntent calldata intent,
        address[] calldata vaults,
        uint256[] memory amounts,
        uint256 totalIn,
        uint256 totalOut
    ) private returns (uint256 mirrored) {
        uint256 handedOut;
        for (uint256 i = 0; i < vaults.length; ++i) {
            handedOut += totalOut * amounts[i] / totalIn;
        }
        uint256 remainder = totalOut - handedOut;
        IERC20 tokenOut = IERC20(intent.tokenOut);
        for (uint256 i = 0; i < vaults.length; ++i) {
            if (amounts[i] == 0) continue; // skipped
            uint256 share = totalOut * amounts[i] / totalIn;
            if (remainder != 0) {
                ++share;
                --remainder;
            }
            if (share != 0) tokenOut.safeTransfer(vaults[i], share);
            ICopyVault(vaults[i]).settleAggregated(intent);
            ++mirrored;
        }
    }

    /// @dev The error selector of revert data (zero for an empty revert, e.g. out of gas in the callee).
    function _selectorOf(bytes memory reason) private pure returns (bytes4 selector) {
        if (reason.length < 4) return bytes4(0);
        assembly ("memory-safe") {
            selector := mload(add(reason, 0x20))
        }
    }
}
