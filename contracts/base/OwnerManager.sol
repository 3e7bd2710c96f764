// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {ICopyVault} from "../interfaces/ICopyVault.sol";
import {BoundedCall} from "../libraries/BoundedCall.sol";

/// @title OwnerManager
/// @notice The owner set, its threshold, and the one place where M-of-N approvals are checked.
/// @dev Invariant (docs/protocol.md §1.5, 4): 1 ≤ threshold ≤ owners ≤ MAX_OWNERS, no zero or duplicate owner.
abstract contract OwnerManager is ICopyVault {
    /// @dev Bounds every loop over owners and keeps the count in a uint8.
    uint256 internal constant MAX_OWNERS = 32;

    /// @dev The owner set lives at a fixed namespaced slot (ERC-7201 style) so that the vault's hot fields
    ///      pack into slot 0 with the threshold. keccak256(abi.encode(uint256(keccak256("copyvault.owners")) - 1))
    ///      & ~bytes32(uint256(0xff))
    bytes32 private constant OWNERS_SLOT = 0x32b11a8b86059a5baa1c5a88cb69bb255261fb22bd7156491b417b2f4cce1e00;

    /// @custom:storage-location erc7201:copyvault.owners
    struct OwnerSet {
        mapping(address account => bool) isOwner;
        address[] list;
    }

    // Slot 0, packed with the vault's leader, nonce and flags.
    uint8 internal _threshold;
    uint8 internal _ownerCount;

    function _ownerSet() internal pure returns (OwnerSet storage set) {
        bytes32 slot = OWNERS_SLOT;
        assembly ("memory-safe") {
            set.slot := slot
        }
    }

    function _isOwner(address account) internal view returns (bool) {
        return _ownerSet().isOwner[account];
    }

    /// @dev Checks `signatures` by strictly ascending `signers` over `digest`; at least `_threshold` of them,
    ///      every one an owner with a valid signature (ECDSA low-s for EOAs, EIP-1271 for contracts), and no
    ///      two with the same bytes: the same 65 bytes could otherwise pass once by ECDSA for an EOA owner and
    ///      once through an EIP-1271 owner that checks that same key, so one key would count twice.
    function _verifyApprovals(bytes32 digest, address[] calldata signers, bytes[] calldata signatures)
        internal
        view
    {
        uint256 count = signers.length;
        if (count != signatures.length) revert LengthMismatch(count, signatures.length);
        uint256 required = _threshold;
        if (count < required) revert NotEnoughSignatures(count, required);
        OwnerSet storage set = _ownerSet();
        address previous = address(0);
        // Hashes of the signatures seen so far; count ≤ MAX_OWNERS (a signer more than that is not an owner
        // before its turn comes), so the pairwise comparison stays small.
        bytes32[] memory seen = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            address signer = signers[i];
            if (signer <= previous) revert SignersNotAscending(i);
            if (!set.isOwner[signer]) revert SignerNotOwner(signer);
            bytes32 signatureHash = keccak256(signatures[i]);
            for (uint256 j = 0; j < i; ++j) {
                if (seen[j] == signatureHash) revert SignatureReused(i, j);
            }
            seen[i] = signatureHash;
            if (!_isValidSignature(signer, digest, signatures[i])) revert InvalidOwnerSignature(signer);
            previous = signer;
        }
    }

    /// @dev ECDSA first (low-s only): a match proves the signer's key whatever code the address has, and
    ///      skipping the code-size probe saves a cold account access per EOA signer. EIP-1271 otherwise, copying
    ///      one word of the owner contract's answer (BoundedCall).
    function _isValidSignature(address signer, bytes32 digest, bytes calldata signature) private view returns (bool) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        return signer.code.length != 0 && BoundedCall.isValidERC1271SignatureNow(signer, digest, signature);
    }

    function _addOwner(address owner) internal {
        if (owner == address(0)) revert ZeroAddress();
        OwnerSet storage set = _ownerSet();
        if (owner == address(this) || set.isOwner[owner]) revert InvalidOwner(owner);
        uint256 count = _ownerCount + 1;
        if (count > MAX_OWNERS) revert TooManyOwners(count, MAX_OWNERS);
        set.isOwner[owner] = true;
        set.list.push(owner);
        _ownerCount = uint8(count); // fits: count ≤ MAX_OWNERS
        emit OwnerAdded(owner);
    }

    function _removeOwner(address owner) internal {
        OwnerSet storage set = _ownerSet();
        if (!set.isOwner[owner]) revert OwnerNotFound(owner);
        uint256 remaining = _ownerCount - 1;
        if (remaining < _threshold) revert InvalidThreshold(_threshold, remaining);
        set.isOwner[owner] = false;
        address[] storage list = set.list;
        uint256 last = list.length - 1;
        for (uint256 i = 0; i < last; ++i) {
            if (list[i] == owner) {
                list[i] = list[last];
                break;
            }
        }
        list.pop();
        _ownerCount = uint8(remaining);
        emit OwnerRemoved(owner);
    }

    function _setThreshold(uint256 newThreshold) internal {
        if (newThreshold == 0 || newThreshold > _ownerCount) revert InvalidThreshold(newThreshold, _ownerCount);
        _threshold = uint8(newThreshold); // fits: ≤ _ownerCount ≤ MAX_OWNERS
        emit ThresholdChanged(newThreshold);
    }
}
