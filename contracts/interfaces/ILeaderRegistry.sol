// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TradeIntent} from "./ICopyTypes.sol";

/// @title ILeaderRegistry
/// @notice Leaders, their trade-only delegates and cancelled intent nonces; the EIP-712 verifying
///         contract for intents, so one signature serves every vault (docs/protocol.md §1.2).
interface ILeaderRegistry {
    // ----------------------------------------------------------------- events

    /// @notice A leader registered or updated its public profile.
    event LeaderRegistered(address indexed leader, string profileURI);
    /// @notice A leader appointed (or re-appointed) a trade-only delegate key until `expiry`.
    event DelegateSet(address indexed leader, address indexed delegate, uint64 expiry);
    /// @notice A leader revoked a delegate key before its expiry.
    event DelegateRevoked(address indexed leader, address indexed delegate);
    /// @notice A leader cancelled the nonces set in `mask` within bitmap word `wordPos`.
    event NoncesInvalidated(address indexed leader, uint256 indexed wordPos, uint256 mask);

    // ----------------------------------------------------------------- errors

    /// @notice Thrown when an intent's deadline has passed.
    error IntentExpired(uint256 deadline, uint256 timestamp);
    /// @notice Thrown when an intent's fractionBps is 0 or above 10000.
    error InvalidFraction(uint16 fractionBps);
    /// @notice Thrown when the leader cancelled this nonce.
    error NonceCancelled(address leader, uint256 nonce);
    /// @notice Thrown when the signature is malformed, has a high s, or is not the leader's EIP-1271 approval.
    error InvalidSignature();
    /// @notice Thrown when the signature is valid but its signer is neither the leader nor a live delegate.
    error UnauthorizedSigner(address leader, address signer);
    /// @notice Thrown when a delegate is the zero address or the leader itself.
    error InvalidDelegate(address delegate);
    /// @notice Thrown when a delegate's expiry is not in the future.
    error InvalidExpiry(uint64 expiry);
    /// @notice Thrown when revoking a delegate that is not appointed.
    error DelegateNotFound(address leader, address delegate);
    /// @notice Thrown when invalidating nonces with an empty mask.
    error EmptyMask();

    // ----------------------------------------------------------------- leaders

    /// @notice Register the caller as a leader, or update its profile URI.
    /// @param profileURI Where followers read the leader's profile (any URI; informational only).
    function register(string calldata profileURI) external;

    /// @notice Appoint `delegate` as a trade-only key for the caller until `expiry` (unix seconds).
    /// @dev A delegate can sign intents; it can never withdraw, since withdrawals need vault owners.
    function setDelegate(address delegate, uint64 expiry) external;

    /// @notice Revoke a delegate of the caller immediately.
    function revokeDelegate(address delegate) external;

    /// @notice Cancel the caller's intent nonces: each set bit `i` of `mask` cancels nonce `wordPos * 256 + i`.
    function invalidateNonces(uint256 wordPos, uint256 mask) external;

    // ----------------------------------------------------------------- verification

    /// @notice Verify `intent` and its signature; reverts with the specific error when the signature,
    ///         signer, nonce, fraction or deadline is wrong.
    /// @return digest The intent's EIP-712 digest.
    function verifyIntent(TradeIntent calldata intent, bytes calldata signature) external view returns (bytes32 digest);

    /// @notice As `verifyIntent`, but remembers the verified signer for the rest of the transaction
    ///         (transient storage), so that a batch verifies the signature once for all its vaults.
    /// @dev Deadline, fraction, nonce cancellation and the signer's authorisation are re-checked on every call.
    function checkIntent(TradeIntent calldata intent, bytes calldata signature) external returns (bytes32 digest);

    /// @notice The EIP-712 digest of `intent` under this registry's domain.
    function intentDigest(TradeIntent calldata intent) external view returns (bytes32);

    /// @notice The EIP-712 domain separator: ("CopyVault", "1", chainId, this registry).
    function domainSeparator() external view returns (bytes32);

    /// @notice Whether `nonce` of `leader` has not been cancelled.
    function isNonceUsable(address leader, uint256 nonce) external view returns (bool);

    /// @notice Whether `signer` may sign intents for `leader` now (the leader itself or a live delegate).
    function isAuthorizedSigner(address leader, address signer) external view returns (bool);

    /// @notice Whether `leader` has registered.
    function isRegistered(address leader) external view returns (bool);

    /// @notice The leader's profile URI ("" when not registered).
    function profileURI(address leader) external view returns (string memory);

    /// @notice The expiry of `delegate` for `leader` (0 when none).
    function delegateExpiry(address leader, address delegate) external view returns (uint64);

    /// @notice The cancelled-nonce bitmap word `wordPos` of `leader`.
    function nonceBitmap(address leader, uint256 wordPos) external view returns (uint256);
}
