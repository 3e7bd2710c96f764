// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ISanctionsList
/// @notice The interface of on-chain sanctions oracles (for example Chainalysis'), used to refuse deposits.
interface ISanctionsList {
    function isSanctioned(address account) external view returns (bool);
}
