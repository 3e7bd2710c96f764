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
    /// @dev The runtime code hash of an EIP-1167 clone of the vault implementation. Checking it costs what
    ///      the first call to the vault would pay anyway (the account becomes warm), unlike a factory lookup.
    ///      A clone made outside the factory is uninitialised and fails the vault's own checks.
    bytes32 public immutable vaultCodeHash;

    constructor(IVaultFactory factory_, ILeaderRegistry registry_, address vaultImplementation) {
        factory = factory_;
        registry = registry_;
        vaultCodeHash = keccak256(
            abi.encodePacked(hex"363d3d373d3d3d363d73", vaultImplementation, hex"5af43d82803e903d91602b57fd5bf3")
        );
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
            if (vault.codehash != vaultCodeHash) {
                emit MirrorSkipped(vault, digest, NotAVault.selector);
                continue;
            }
            uint256 gasBefore = gasleft();
            try ICopyVault(vault).mirror(intent, signature) returns (uint256, uint256) {
                // The vault emits Mirrored with the amounts; the router only counts.
                ++mirrored;
            } catch (bytes memory reason) {
                emit MirrorSkipped(vault, digest, _skipReason(reason, gasBefore));
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
        // amounts[i] is vault i's tokenIn in the swap; 0 marks a skipped vault.
        (uint256[] memory amounts, uint256[] memory minOuts, uint256 pulled) =
            _pullVaults(intent, signature, digest, vaults);
        totalIn = pulled == 0 ? 0 : _leaveOutUnreachable(intent, digest, vaults, amounts, minOuts, pulled);
        if (totalIn != 0) {
            totalOut = _swap(intent, totalIn);
            mirrored = _distribute(intent, vaults, amounts, totalIn, totalOut);
            emit AggregatedSwap(digest, mirrored, totalIn, totalOut);
        }
        emit BatchMirrored(digest, mirrored, vaults.length - mirrored);
    }

    /// @dev Phase 1: each vault runs all its checks itself, marks the intent executed and sends its tokenIn
    ///      here. A vault that refuses is skipped with its reason.
    function _pullVaults(
        TradeIntent calldata intent,
        bytes calldata signature,
        bytes32 digest,
        address[] calldata vaults
    ) private returns (uint256[] memory amounts, uint256[] memory minOuts, uint256 pulled) {
        amounts = new uint256[](vaults.length);
        minOuts = new uint256[](vaults.length);
        for (uint256 i = 0; i < vaults.length; ++i) {
            address vault = vaults[i];
            if (vault.codehash != vaultCodeHash) {
                emit MirrorSkipped(vault, digest, NotAVault.selector);
                continue;
            }
            uint256 gasBefore = gasleft();
            try ICopyVault(vault).pullAggregated(intent, signature) returns (uint256 amountIn, uint256 minOut) {
                amounts[i] = amountIn;
                minOuts[i] = minOut;
                pulled += amountIn;
            } catch (bytes memory reason) {
                emit MirrorSkipped(vault, digest, _skipReason(reason, gasBefore));
            }
        }
    }

    /// @dev Phase 2: vaults whose bound cannot hold at the venue's quote for the batch get their tokenIn back
    ///      and are skipped. Leaving vaults out shrinks the batch, which only improves an AMM's price for the
    ///      rest, so one pass is enough. Returns what goes into the swap.
    function _leaveOutUnreachable(
        TradeIntent calldata intent,
        bytes32 digest,
        address[] calldata vaults,
        uint256[] memory amounts,
        uint256[] memory minOuts,
        uint256 pulled
    ) private returns (uint256 totalIn) {
        uint256 quotedOut = IVenue(intent.venue).quote(intent.tokenIn, intent.tokenOut, pulled);
        totalIn = pulled;
        for (uint256 i = 0; i < vaults.length; ++i) {
            if (amounts[i] == 0) continue;
            uint256 quotedShare = quotedOut * amounts[i] / pulled;
            if (minOuts[i] <= quotedShare) continue;
            IERC20(intent.tokenIn).safeTransfer(vaults[i], amounts[i]);
            ICopyVault(vaults[i]).cancelAggregated(intent);
            totalIn -= amounts[i];
            amounts[i] = 0;
            emit MirrorSkipped(vaults[i], digest, BoundAboveQuote.selector);
        }
    }

    /// @dev Phase 3: one swap for the batch; the output is measured on the router's own balance.
    function _swap(TradeIntent calldata intent, uint256 totalIn) private returns (uint256 totalOut) {
        IERC20(intent.tokenIn).safeTransfer(
            IVenue(intent.venue).inputRecipient(intent.tokenIn, intent.tokenOut), totalIn
        );
        IERC20 tokenOut = IERC20(intent.tokenOut);
        uint256 before = tokenOut.balanceOf(address(this));
        IVenue(intent.venue).swap(intent.tokenIn, intent.tokenOut, totalIn, address(this));
        totalOut = tokenOut.balanceOf(address(this)) - before;
    }

    /// @dev Phase 4: vault i gets floor(totalOut * amountIn_i / totalIn); the remainder (fewer wei than vaults)
    ///      goes one wei each to the first vaults, so every vault's price is the same to within one wei and
    ///      nothing stays in the router. Each vault then checks its own balances against its bound; one that
    ///      fails reverts the whole call (the relayer simulates first, so only a front-run batch does).
    function _distribute(
        TradeIntent calldata intent,
        address[] calldata vaults,
        uint256[] memory amounts,
        uint256 totalIn,
        uint256 totalOut
    ) private returns (uint256 mirrored) {
        uint256 handedOut = 0;
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

    /// @dev The error selector of a vault's revert. A revert without data after the call used up nearly all the
    ///      gas it was given means the transaction's gas limit was too low, not that the vault refused: the whole
    ///      batch then reverts instead of skipping followers it could have mirrored with more gas. An out-of-gas
    ///      deep in the vault (in the oracle, a token, the venue) leaves each caller on the way 1/64 of its gas,
    ///      so the test allows a few such levels: under 1/16 of the gas before the call is "out of gas".
    function _skipReason(bytes memory reason, uint256 gasBefore) private view returns (bytes4 selector) {
        if (reason.length < 4) {
            if (gasleft() <= gasBefore / 16) revert BatchOutOfGas();
            return bytes4(0);
        }
        assembly ("memory-safe") {
            selector := mload(add(reason, 0x20))
        }
    }
}
