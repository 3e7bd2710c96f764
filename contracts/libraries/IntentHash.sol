// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TradeIntent} from "../interfaces/ICopyTypes.sol";

/// @title IntentHash
/// @notice EIP-712 struct hashing of a TradeIntent, kept in one place for the registry and the router.
library IntentHash {
    bytes32 internal constant TYPEHASH = keccak256(
        "TradeIntent(address leader,address venue,address tokenIn,address tokenOut,uint16 fractionBps,uint256 minPrice,uint256 nonce,uint256 deadline)"
    );

    /// @notice The EIP-712 struct hash of `intent`.
    function structHash(TradeIntent calldata intent) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                TYPEHASH,
                intent.leader,
                intent.venue,
                intent.tokenIn,
                intent.tokenOut,
                intent.fractionBps,
                intent.minPrice,
                intent.nonce,
                intent.deadline
            )
        );
    }
}
