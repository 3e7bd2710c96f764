// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IAuditAnchor} from "./interfaces/IAuditAnchor.sol";

/// @title AuditAnchor
/// @notice Append-only list of audit-trail anchors published by the platform's anchorer key; anyone verifies an
///         intent's inclusion proof against a stored root.
/// @dev Anchors are never changed or removed: a wrong one stays on record beside the correct history, which is
///      the point. Intervals are contiguous and head seqs never decrease, so a skipped or rewound interval is
///      refused here rather than left for the verifier to notice.
contract AuditAnchor is IAuditAnchor, AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    Anchor[] private _anchors;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants and revokes anchorers).
    /// @param anchorer The platform key that publishes anchors.
    constructor(address admin, address anchorer) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, anchorer);
    }

    // ----------------------------------------------------------------- anchoring

    /// @inheritdoc IAuditAnchor
    function anchor(uint64 headSeq, bytes32 headHash, bytes32 intentsRoot, uint64 fromTime, uint64 toTime)
        external
        onlyRole(ANCHORER_ROLE)
    {
        if (toTime <= fromTime || toTime > block.timestamp) revert InvalidInterval(fromTime, toTime);
        uint256 count = _anchors.length;
        if (count != 0) {
            Anchor storage last = _anchors[count - 1];
            if (fromTime != last.toTime) revert IntervalGap(last.toTime, fromTime);
            if (headSeq < last.headSeq) revert HeadSeqDecreased(last.headSeq, headSeq);
        }
        _anchors.push(
            Anchor({
                headSeq: headSeq,
                fromTime: fromTime,
                toTime: toTime,
                anchoredAt: uint64(block.timestamp),
                headHash: headHash,
                intentsRoot: intentsRoot
            })
        );
        emit Anchored(count, headSeq, headHash, intentsRoot, fromTime, toTime);
    }

    // ----------------------------------------------------------------- views

    /// @inheritdoc IAuditAnchor
    function anchorCount() external view returns (uint256) {
        return _anchors.length;
    }

    /// @inheritdoc IAuditAnchor
    function anchorAt(uint256 index) public view returns (Anchor memory) {
        if (index >= _anchors.length) revert UnknownAnchor(index);
        return _anchors[index];
    }

    /// @inheritdoc IAuditAnchor
    function intentLeaf(bytes32 digest, uint64 acceptedAt) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(digest, acceptedAt))));
    }

    /// @inheritdoc IAuditAnchor
    function verifyIntent(uint256 index, bytes32 digest, uint64 acceptedAt, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Anchor memory stored = anchorAt(index);
        if (acceptedAt < stored.fromTime || acceptedAt >= stored.toTime) return false;
        return MerkleProof.verifyCalldata(proof, stored.intentsRoot, intentLeaf(digest, acceptedAt));
    }
}
