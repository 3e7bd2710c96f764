// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {ICopyVault} from "../interfaces/ICopyVault.sol";

/// @title OwnerManager
/// @notice The owner set, its threshold, and the one place where M-of-N approvals are checked.
/// @dev Invariant (SPEC §1.5, 4): 1 ≤ threshold ≤ owners ≤ MAX_OWNERS, no zero or duplicate owner.
abstract contract OwnerManager is ICopyVault {
    /// @dev Bounds every loop over owners and keeps the count in a uint8.
    uint256 internal constant MAX_OWNERS = 32;

    // Packed with the vault's first storage variables into slot 0.
    uint8 internal _threshold;
    uint8 internal _ownerCount;

    mapping(address account => bool) internal _isOwner;
    address[] internal _owners;

    /// @dev Checks `signatures` by strictly ascending `signers` over `digest`; at least `_threshold` of them,
    ///      every one an owner with a valid signature (ECDSA low-s for EOAs, EIP-1271 for contracts).
    function _verifyApprovals(bytes32 digest, address[] calldata signers, bytes[] calldata signatures)
        internal
        view
    {
        uint256 count = signers.length;
        if (count != signatures.length) revert LengthMismatch(count, signatures.length);
        uint256 required = _threshold;
        if (count < required) revert NotEnoughSignatures(count, required);
        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            address signer = signers[i];
            if (signer <= previous) revert SignersNotAscending(i);
            if (!_isOwner[signer]) revert SignerNotOwner(signer);
            if (!SignatureChecker.isValidSignatureNow(signer, digest, signatures[i])) {
                revert InvalidOwnerSignature(signer);
            }
            previous = signer;
        }
    }

    function _addOwner(address owner) internal {
        if (owner == address(0)) revert ZeroAddress();
        if (owner == address(this) || _isOwner[owner]) revert InvalidOwner(owner);
        uint256 count = _ownerCount + 1;
        if (count > MAX_OWNERS) revert TooManyOwners(count, MAX_OWNERS);
        _isOwner[owner] = true;
        _owners.push(owner);
        _ownerCount = uint8(count); // fits: count ≤ MAX_OWNERS
        emit OwnerAdded(owner);
    }

    function _removeOwner(address owner) internal {
        if (!_isOwner[owner]) revert OwnerNotFound(owner);
        uint256 remaining = _ownerCount - 1;
        if (remaining < _threshold) revert InvalidThreshold(_threshold, remaining);
        _isOwner[owner] = false;
        uint256 last = _owners.length - 1;
        for (uint256 i = 0; i < last; ++i) {
            if (_owners[i] == owner) {
                _owners[i] = _owners[last];
                break;
            }
        }
        _owners.pop();
        _ownerCount = uint8(remaining);
        emit OwnerRemoved(owner);
    }

    function _setThreshold(uint256 newThreshold) internal {
        if (newThreshold == 0 || newThreshold > _ownerCount) revert InvalidThreshold(newThreshold, _ownerCount);
        _threshold = uint8(newThreshold); // fits: ≤ _ownerCount ≤ MAX_OWNERS
        emit ThresholdChanged(newThreshold);
    }
}
