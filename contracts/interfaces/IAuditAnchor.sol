// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IAuditAnchor
/// @notice Anchors of the platform's audit trail: at each interval the platform's key publishes the head of
///         its hash-chained audit log and the Merkle root of the intents it accepted in the interval, so a
///         rewrite of the log or a denied acceptance is evident against the chain (docs/audit-trail.md).
interface IAuditAnchor {
    /// @notice One published anchor. Intents of this anchor were accepted in [fromTime, toTime) (unix seconds).
    struct Anchor {
        uint64 headSeq;
        uint64 fromTime;
        uint64 toTime;
        uint64 anchoredAt;
        bytes32 headHash;
        bytes32 intentsRoot;
    }

    // ----------------------------------------------------------------- events

    /// @notice The anchorer published anchor number `index`.
    event Anchored(
        uint256 indexed index,
        uint64 headSeq,
        bytes32 headHash,
        bytes32 intentsRoot,
        uint64 fromTime,
        uint64 toTime
    );

    // ----------------------------------------------------------------- errors

    /// @notice Thrown when an anchor's interval is empty or ends in the future.
    error InvalidInterval(uint64 fromTime, uint64 toTime);
    /// @notice Thrown when an anchor's interval does not start where the previous one ended.
    error IntervalGap(uint64 expectedFrom, uint64 fromTime);
    /// @notice Thrown when an anchor's head seq is below the previous anchor's (the log only grows).
    error HeadSeqDecreased(uint64 previousSeq, uint64 headSeq);
    /// @notice Thrown when reading an anchor index that was never published.
    error UnknownAnchor(uint256 index);

    // ----------------------------------------------------------------- anchoring

    /// @notice Publish the next anchor (ANCHORER_ROLE only).
    function anchor(uint64 headSeq, bytes32 headHash, bytes32 intentsRoot, uint64 fromTime, uint64 toTime)
        external;

    // ----------------------------------------------------------------- views

    /// @notice How many anchors were published.
    function anchorCount() external view returns (uint256);

    /// @notice Anchor number `index`.
    function anchorAt(uint256 index) external view returns (Anchor memory);

    /// @notice The leaf of an accepted intent: keccak256(bytes.concat(keccak256(abi.encode(digest, acceptedAt)))),
    ///         as OpenZeppelin's StandardMerkleTree hashes the values ["bytes32", "uint64"].
    function intentLeaf(bytes32 digest, uint64 acceptedAt) external pure returns (bytes32);

    /// @notice True when `proof` shows the intent `digest`, accepted at `acceptedAt` (unix seconds), is in anchor
    ///         `index`'s intents root and `acceptedAt` lies in that anchor's interval.
    function verifyIntent(uint256 index, bytes32 digest, uint64 acceptedAt, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
