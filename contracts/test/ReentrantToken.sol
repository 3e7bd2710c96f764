// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only token that calls back into `target` with `payload` during each transfer (as an
///         ERC-777-style hook would), bubbling the callee's revert so tests can see what stopped it.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool private _inHook;

    constructor() ERC20("Reentrant Token", "REENT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
    }

    function disarm() external {
        target = address(0);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (target == address(0) || _inHook || from == address(0)) return;
        _inHook = true;
        (bool ok, bytes memory reason) = target.call(payload);
        _inHook = false;
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
    }
}
