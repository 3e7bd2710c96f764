// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only token with an issuer's powers, as USDC and USDT have: a blocklist (no transfer from or
///         to a blocked account) and a pause (no transfer at all).
contract RestrictedToken is ERC20 {
    error Blocklisted(address account);
    error TokenPaused();

    mapping(address account => bool) public isBlocklisted;
    bool public paused;

    constructor() ERC20("Restricted Token", "RST") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBlocklisted(address account, bool blocked) external {
        isBlocklisted[account] = blocked;
    }

    function setPaused(bool paused_) external {
        paused = paused_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (paused) revert TokenPaused();
        if (isBlocklisted[from]) revert Blocklisted(from);
        if (isBlocklisted[to]) revert Blocklisted(to);
        super._update(from, to, value);
    }
}
