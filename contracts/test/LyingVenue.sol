// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IVenue} from "../interfaces/IVenue.sol";

/// @notice Test-only venue that keeps the input and claims a generous output. It pays out `payout` of
///         `tokenOut` from its own balance (0 = nothing), and reports `claimed` whatever it paid.
contract LyingVenue is IVenue {
    uint256 public payout;
    uint256 public claimed;

    function configure(uint256 payout_, uint256 claimed_) external {
        payout = payout_;
        claimed = claimed_;
    }

    function quote(address, address, uint256) external view returns (uint256) {
        return claimed;
    }

    function inputRecipient(address, address) external view returns (address) {
        return address(this);
    }

    function swap(address, address tokenOut, uint256, address recipient) external returns (uint256) {
        if (payout != 0) IERC20(tokenOut).transfer(recipient, payout);
        return claimed;
    }
}
