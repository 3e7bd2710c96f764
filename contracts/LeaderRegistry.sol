// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {TransientSlot} from "@openzeppelin/contracts/utils/TransientSlot.sol";

import {ILeaderRegistry} from "./interfaces/ILeaderRegistry.sol";
import {TradeIntent} from "./interfaces/ICopyTypes.sol";
import {IntentHash} from "./libraries/IntentHash.sol";

/// @title LeaderRegistry
/// @notice Leaders, delegates and cancelled nonces; verifies leaders' EIP-712 trade intents.
contract LeaderRegistry is ILeaderRegistry, EIP712 {
    using TransientSlot for bytes32;
    using TransientSlot for TransientSlot.AddressSlot;

    // ----------------------------------------------------------------- constants

    uint16 private constant MAX_BPS = 10_000;
    /// @dev Transient cache of verified digests: slot = keccak256(digest, VERIFIED_SEED) holds the signer.
    bytes32 private constant VERIFIED_SEED = keccak256("copyvault.registry.verified");

    // ----------------------------------------------------------------- storage

    mapping(address leader => bool) private _registered;
    mapping(address leader => string) private _profiles;
    mapping(address leader => mapping(address delegate => uint64 expiry)) private _delegates;
    mapping(address leader => mapping(uint256 wordPos => uint256 bits)) private _cancelled;

    // ----------------------------------------------------------------- constructor

    constructor() EIP712("CopyVault", "1") {}

    // ----------------------------------------------------------------- leaders

    /// @inheritdoc ILeaderRegistry
    function register(string calldata profileURI_) external {
        _registered[msg.sender] = true;
        _profiles[msg.sender] = profileURI_;
        emit LeaderRegistered(msg.sender, profileURI_);
    }

    /// @inheritdoc ILeaderRegistry
    function setDelegate(address delegate, uint64 expiry) external {
        if (delegate == address(0) || delegate == msg.sender) revert InvalidDelegate(delegate);
        if (expiry <= block.timestamp) revert InvalidExpiry(expiry);
        _delegates[msg.sender][delegate] = expiry;
        emit DelegateSet(msg.sender, delegate, expiry);
    }

    /// @inheritdoc ILeaderRegistry
    function revokeDelegate(address delegate) external {
        if (_delegates[msg.sender][delegate] == 0) revert DelegateNotFound(msg.sender, delegate);
        delete _delegates[msg.sender][delegate];
        emit DelegateRevoked(msg.sender, delegate);
    }

    /// @inheritdoc ILeaderRegistry
    function invalidateNonces(uint256 wordPos, uint256 mask) external {
        if (mask == 0) revert EmptyMask();
        _cancelled[msg.sender][wordPos] |= mask;
        emit NoncesInvalidated(msg.sender, wordPos, mask);
    }

    // ----------------------------------------------------------------- verification

    /// @inheritdoc ILeaderRegistry
    function verifyIntent(TradeIntent calldata intent, bytes calldata signature) external view returns (bytes32 digest) {
        digest = _checkTerms(intent);
        _requireAuthorized(intent.leader, _recoverSigner(intent.leader, digest, signature));
    }

    /// @inheritdoc ILeaderRegistry
    function checkIntent(TradeIntent calldata intent, bytes calldata signature) external returns (bytes32 digest) {
        digest = _checkTerms(intent);
        TransientSlot.AddressSlot cached = _verifiedSlot(digest).asAddress();
        address signer = cached.tload();
        if (signer == address(0)) {
            signer = _recoverSigner(intent.leader, digest, signature);
            cached.tstore(signer);
        }
        // Re-checked even on a cache hit: a delegate revoked earlier in this transaction loses its power.
        _requireAuthorized(intent.leader, signer);
    }

    /// @inheritdoc ILeaderRegistry
    function intentDigest(TradeIntent calldata intent) public view returns (bytes32) {
        return _hashTypedDataV4(IntentHash.structHash(intent));
    }

    /// @inheritdoc ILeaderRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc ILeaderRegistry
    function isNonceUsable(address leader, uint256 nonce) public view returns (bool) {
        return _cancelled[leader][nonce >> 8] & (1 << (nonce & 0xff)) == 0;
    }

    /// @inheritdoc ILeaderRegistry
    function isAuthorizedSigner(address leader, address signer) public view returns (bool) {
        return signer == leader || _delegates[leader][signer] > block.timestamp;
    }

    /// @inheritdoc ILeaderRegistry
    function isRegistered(address leader) external view returns (bool) {
        return _registered[leader];
    }

    /// @inheritdoc ILeaderRegistry
    function profileURI(address leader) external view returns (string memory) {
        return _profiles[leader];
    }

    /// @inheritdoc ILeaderRegistry
    function delegateExpiry(address leader, address delegate) external view returns (uint64) {
        return _delegates[leader][delegate];
    }

    /// @inheritdoc ILeaderRegistry
    function nonceBitmap(address leader, uint256 wordPos) external view returns (uint256) {
        return _cancelled[leader][wordPos];
    }

    // ----------------------------------------------------------------- internal

    /// @dev Checks everything but the signature and returns the digest.
    function _checkTerms(TradeIntent calldata intent) private view returns (bytes32) {
        if (intent.deadline < block.timestamp) revert IntentExpired(intent.deadline, block.timestamp);
        if (intent.fractionBps == 0 || intent.fractionBps > MAX_BPS) revert InvalidFraction(intent.fractionBps);
        if (!isNonceUsable(intent.leader, intent.nonce)) revert NonceCancelled(intent.leader, intent.nonce);
        return intentDigest(intent);
    }

    /// @dev The signer of `digest`: the ECDSA signer (low-s only), or the leader itself when the leader is a
    ///      contract that approves the digest through EIP-1271.
    function _recoverSigner(address leader, bytes32 digest, bytes calldata signature) private view returns (address) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err == ECDSA.RecoverError.NoError && isAuthorizedSigner(leader, recovered)) return recovered;
        if (leader.code.length != 0 && SignatureChecker.isValidERC1271SignatureNow(leader, digest, signature)) {
            return leader;
        }
        if (err == ECDSA.RecoverError.NoError) return recovered; // valid signature, wrong key: reported as such
        revert InvalidSignature();
    }

    function _requireAuthorized(address leader, address signer) private view {
        if (!isAuthorizedSigner(leader, signer)) revert UnauthorizedSigner(leader, signer);
    }

    function _verifiedSlot(bytes32 digest) private pure returns (bytes32) {
        // Hashing the digest with a fixed seed gives each digest its own transient slot.
        return keccak256(abi.encode(digest, VERIFIED_SEED));
    }
}
