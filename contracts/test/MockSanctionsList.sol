// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISanctionsList} from "../interfaces/ISanctionsList.sol";

/// @notice Test-only deny-list with the on-chain sanctions oracle interface.
contract MockSanctionsList is ISanctionsList {
    mapping(address => bool) public isSanctioned;

    function setSanctioned(address account, bool sanctioned) external {
        isSanctioned[account] = sanctioned;
    }
}
