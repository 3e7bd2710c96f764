// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICopyRouter} from "./interfaces/ICopyRouter.sol";
import {ICopyVault} from "./interfaces/ICopyVault.sol";
import {TradeIntent} from "./interfaces/ICopyTypes.sol";
import {ILeaderRegistry} from "./interfaces/ILeaderRegistry.sol";
import {IVaultFactory} from "./interfaces/IVaultFactory.sol";
import {IVenue} from "./interfaces/IVenue.sol";
import {BoundedCall} from "./libraries/BoundedCall.sol";

/// @title CopyRouter
/// @notice Batch mirroring of one intent into many vaults. Deployed by the factory and fixed there.
/// @dev Holds no tokens between calls: the aggregated mode hands out everything the swap returned.
contract CopyRouter is ICopyRouter, ReentrancyGuardTransient {
    /// @dev Tokens and venues are the leader's and the owners' choice: their return and revert data is copied
    ///      only as far as needed (see BoundedCall).
    using BoundedCall for IERC20;

    /// @dev Gas given to each vault's `mirror` (it swaps on its own) and `pullAggregated` call. A vault's outcome
    ///      then never depends on the transaction's gas limit: the router reverts with BatchOutOfGas unless it
    ///      can give the full amount, and a vault that needs more (say, an oracle its owners chose that burns
    ///      gas) is skipped instead of blocking the batch. Measured use: mirror about 210k on a vault's first
    ///      trade, pullAggregated about 75k; the margins leave room for dearer tokens and venues (a token
    ///      whose transfer hook swaps on Uniswap needed more than 300k in a pull, in the tests).
    uint256 public constant MIRROR_CALL_GAS = 600_000;
    uint256 public constant PULL_CALL_GAS = 500_000;
    /// @dev What the router needs after a vault call returns (decoding, bookkeeping, the skip event).
    uint256 private constant AFTER_CALL_GAS = 20_000;
    /// @dev How many wei less than its `amountIn` a vault's pull may deliver: share-based tokens (stETH) round
    ///      each transfer down by one or two wei (the vault's own INPUT_TOLERANCE). More is a fee-on-transfer
    ///      input, refused in this mode (docs/tokens.md).
    uint256 public constant INPUT_TOLERANCE = 2;

    /// @dev One aggregated batch's state between its phases, in memory (on the stack it would not fit the legacy
    ///      code generator, which Slither compiles with). amounts[i] is vault i's tokenIn in the swap, 0 for a
    ///      skipped vault.
    struct Batch {
        bytes32 digest;
        uint256 heldBefore;
        uint256[] amounts;
        uint256[] minOuts;
        uint256 pulled;
        uint256 skipped;
    }

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
        // Encoded once: every vault gets the same call.
        bytes memory call_ = abi.encodeCall(ICopyVault.mirror, (intent, signature));
        uint256 skipped = 0;
        for (uint256 i = 0; i < vaults.length; ++i) {
            address vault = vaults[i];
            // Not a vault clone: nothing to skip, nothing to report (anyone may list made-up addresses).
            if (vault.codehash != vaultCodeHash) continue;
            _requireGasFor(MIRROR_CALL_GAS);
            // The vault emits Mirrored with the amounts; the router only counts.
            (bool ok,,, bytes4 reason) = _callVault(vault, MIRROR_CALL_GAS, call_);
            if (ok) ++mirrored;
            else if (_reportSkip(vault, digest, reason)) ++skipped;
        }
        emit BatchMirrored(digest, mirrored, skipped);
    }

    /// @inheritdoc ICopyRouter
    function mirrorAggregated(TradeIntent calldata intent, bytes calldata signature, address[] calldata vaults)
        external
        nonReentrant
        returns (uint256 mirrored, uint256 totalIn, uint256 totalOut)
    {
        if (vaults.length == 0) revert EmptyBatch();
        // The platform's venue allowlist, checked once for the batch: the vaults check only their owners' list.
        if (!factory.isVenueAllowed(intent.venue)) revert VenueNotAllowed(intent.venue);
        // What the pulls deliver is measured, not assumed (tokens donated to the router earlier stay out of it).
        Batch memory batch = _newBatch(
            registry.checkIntent(intent, signature), IERC20(intent.tokenIn).boundedBalanceOf(address(this))
        );
        _pullVaults(intent, signature, vaults, batch);
        if (batch.pulled != 0) {
            _requireInputArrived(IERC20(intent.tokenIn), batch);
            uint256 sharesIn = _leaveOutUnreachable(intent, vaults, batch);
            if (sharesIn != 0) (mirrored, totalIn, totalOut) = _swapAndShare(intent, vaults, batch, sharesIn);
        }
        emit BatchMirrored(batch.digest, mirrored, batch.skipped);
    }

    /// @dev A batch's state before its pulls: the intent's digest and what the router held of `tokenIn`.
    function _newBatch(bytes32 digest, uint256 heldBefore) private pure returns (Batch memory batch) {
        (batch.digest, batch.heldBefore) = (digest, heldBefore);
    }

    /// @dev Phase 1: each vault runs all its checks itself, marks the intent executed and sends its tokenIn
    ///      here. A vault that refuses is skipped with its reason.
    function _pullVaults(
        TradeIntent calldata intent,
        bytes calldata signature,
        address[] calldata vaults,
        Batch memory batch
    ) private {
        uint256[] memory amounts = new uint256[](vaults.length);
        uint256[] memory minOuts = new uint256[](vaults.length);
        uint256 pulled = 0;
        uint256 skipped = 0;
        // Encoded once: every vault gets the same call.
        bytes memory call_ = abi.encodeCall(ICopyVault.pullAggregated, (intent, signature));
        for (uint256 i = 0; i < vaults.length; ++i) {
            address vault = vaults[i];
            // Not a vault clone: nothing to skip, nothing to report (anyone may list made-up addresses).
            if (vault.codehash != vaultCodeHash) continue;
            _requireGasFor(PULL_CALL_GAS);
            (bool ok, uint256 amountIn, uint256 minOut, bytes4 reason) = _callVault(vault, PULL_CALL_GAS, call_);
            if (!ok) {
                if (_reportSkip(vault, batch.digest, reason)) ++skipped;
                continue;
            }
            amounts[i] = amountIn;
            minOuts[i] = minOut;
            pulled += amountIn;
        }
        (batch.amounts, batch.minOuts, batch.pulled, batch.skipped) = (amounts, minOuts, pulled, skipped);
    }

    /// @dev Reverts unless the pulls delivered what the vaults reported, to within INPUT_TOLERANCE wei per pulled
    ///      vault: a fee-on-transfer input is refused here, clearly, and nothing moves.
    function _requireInputArrived(IERC20 tokenIn, Batch memory batch) private view {
        uint256[] memory amounts = batch.amounts;
        uint256 pulledVaults = 0;
        for (uint256 i = 0; i < amounts.length; ++i) {
            if (amounts[i] != 0) ++pulledVaults;
        }
        uint256 arrived = tokenIn.boundedBalanceOf(address(this)) - batch.heldBefore;
        if (arrived + INPUT_TOLERANCE * pulledVaults < batch.pulled) {
            revert UnsupportedInputToken(address(tokenIn), arrived, batch.pulled);
        }
    }

    /// @dev Phase 2: vaults whose bound is not strictly below their share of the venue's quote for the batch,
    ///      quotedShare = floor(quotedOut * amountIn / pulled), get their tokenIn back and are skipped. Leaving
    ///      vaults out shrinks the batch, which only improves a concave AMM's price for the rest (its output for
    ///      `remaining` is at least quotedOut * remaining / pulled), but the floors do not follow: a kept vault's
    ///      share is then at least quotedShare - 1, one wei below, which broke a bound equal to quotedShare and
    ///      reverted the batch (audit point 6, tests/contracts/router/test_aggregated_rounding.py). A bound
    ///      strictly below quotedShare holds for any subset that stays, so one pass is enough. Returns the kept
    ///      vaults' total amountIn, and counts the vaults left out in `batch.skipped`.
    function _leaveOutUnreachable(TradeIntent calldata intent, address[] calldata vaults, Batch memory batch)
        private
        returns (uint256 sharesIn)
    {
        (uint256[] memory amounts, uint256[] memory minOuts, uint256 pulled) =
            (batch.amounts, batch.minOuts, batch.pulled);
        uint256 quotedOut = BoundedCall.staticcallForWord(
            intent.venue, abi.encodeCall(IVenue.quote, (intent.tokenIn, intent.tokenOut, pulled))
        );
        sharesIn = pulled;
        for (uint256 i = 0; i < vaults.length; ++i) {
            if (amounts[i] == 0) continue;
            uint256 quotedShare = quotedOut * amounts[i] / pulled;
            // Strictly below: after others are left out a share can come out one wei under quotedShare.
            if (minOuts[i] < quotedShare) continue;
            IERC20(intent.tokenIn).safeTransfer(vaults[i], amounts[i]);
            ICopyVault(vaults[i]).cancelAggregated(intent);
            sharesIn -= amounts[i];
            amounts[i] = 0;
            ++batch.skipped;
            emit MirrorSkipped(vaults[i], batch.digest, BoundAboveQuote.selector);
        }
    }

    /// @dev Phases 3 and 4 for the kept vaults, whose amountIn add up to `sharesIn`: the swap of what the router
    ///      holds for them (their amountIn, or a wei or two less per vault for a share-based token), then the
    ///      output shared by amountIn.
    function _swapAndShare(TradeIntent calldata intent, address[] calldata vaults, Batch memory batch, uint256 sharesIn)
        private
        returns (uint256 mirrored, uint256 totalIn, uint256 totalOut)
    {
        totalIn = Math.min(IERC20(intent.tokenIn).boundedBalanceOf(address(this)) - batch.heldBefore, sharesIn);
        totalOut = _swap(intent, totalIn);
        mirrored = _distribute(intent, vaults, batch.amounts, sharesIn, totalOut);
        emit AggregatedSwap(batch.digest, mirrored, totalIn, totalOut);
    }

    /// @dev Phase 3: one swap for the batch; the output is measured on the router's own balance.
    function _swap(TradeIntent calldata intent, uint256 totalIn) private returns (uint256 totalOut) {
        IERC20(intent.tokenIn).safeTransfer(
            BoundedCall.staticcallForAddress(
                intent.venue, abi.encodeCall(IVenue.inputRecipient, (intent.tokenIn, intent.tokenOut))
            ),
            totalIn
        );
        IERC20 tokenOut = IERC20(intent.tokenOut);
        uint256 before = tokenOut.boundedBalanceOf(address(this));
        // The venue's reported output is not read: the router measures its own balance.
        BoundedCall.callIgnoringReturn(
            intent.venue, abi.encodeCall(IVenue.swap, (intent.tokenIn, intent.tokenOut, totalIn, address(this)))
        );
        totalOut = tokenOut.boundedBalanceOf(address(this)) - before;
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

    /// @dev Emits MirrorSkipped for a vault of this factory that refused the intent, and says whether it did. A
    ///      clone made elsewhere has the vault's code but is no follower of anyone here: its refusal is not a skip
    ///      (anyone may list such clones, and indexers would count them). Only failures pay for the lookup.
    function _reportSkip(address vault, bytes32 digest, bytes4 reason) private returns (bool reported) {
        reported = factory.isVault(vault);
        if (reported) emit MirrorSkipped(vault, digest, reason);
    }

    /// @dev Reverts unless a call can be given `callGas` in full (the 63/64 rule) and the router can go on.
    function _requireGasFor(uint256 callGas) private view {
        if (gasleft() < callGas * 64 / 63 + AFTER_CALL_GAS) revert BatchOutOfGas();
    }

    /// @dev Calls a vault with exactly `callGas` and copies at most what the router needs of the answer: the two
    ///      return words on success, the error selector (zero for a revert with less than 4 bytes) on failure.
    ///      A `try/catch (bytes memory)` would copy all the revert data into the router's memory, outside the
    ///      vault's fixed gas and growing with every such vault (audit finding 1).
    function _callVault(address vault, uint256 callGas, bytes memory data)
        private
        returns (bool ok, uint256 first, uint256 second, bytes4 reason)
    {
        // The output area is the scratch space (two words): the EVM copies no more than that, whatever the size.
        assembly ("memory-safe") {
            ok := call(callGas, vault, 0, add(data, 0x20), mload(data), 0x00, 0x40)
            switch ok
            case 0 {
                // The first 4 bytes of the revert data are in the scratch space if there were at least 4.
                if gt(returndatasize(), 3) { reason := and(mload(0x00), shl(224, 0xffffffff)) }
            }
            default {
                // A vault clone (code hash checked) returns exactly two words from mirror and pullAggregated.
                first := mload(0x00)
                second := mload(0x20)
            }
        }
    }
}
