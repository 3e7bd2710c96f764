// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

import {IPriceOracle} from "../interfaces/IPriceOracle.sol";
import {IVenue} from "../interfaces/IVenue.sol";

/// @notice Test-only base of the return-data bombs: once armed for a function, calls of it that concern a
///         victim (a holder, or a caller) answer with `size` bytes: a revert with zeros, or the right answer
///         followed by zeros. The bomb pays for its own memory; the point is what its callers copy.
abstract contract ReturnDataBomb {
    bytes4 public armedSelector;
    bool public asRevert;
    uint256 public size;
    mapping(address account => bool) public isVictim;

    function arm(bytes4 selector, bool asRevert_, uint256 size_) external {
        (armedSelector, asRevert, size) = (selector, asRevert_, size_);
    }

    function setVictim(address account, bool victim) external {
        isVictim[account] = victim;
    }

    function _armedFor(address account) internal view returns (bool) {
        return msg.sig == armedSelector && isVictim[account];
    }

    /// @dev Ends the call: reverts with `size` zero bytes, or returns `answer` followed by zeros up to `size`.
    function _explode(uint256 answer) internal view {
        uint256 n = size;
        bool reverting = asRevert;
        // Zeros from past the end of the calldata fill free memory (earlier calls left data there); the frame
        // ends here, so nothing needs allocating.
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, calldatasize(), n)
            if reverting { revert(p, n) }
            mstore(p, answer)
            return(p, n)
        }
    }
}

/// @notice Test-only oracle that forwards to a real one, and bombs its victims' (vaults') quotes.
contract BombOracle is ReturnDataBomb {
    IPriceOracle public immutable inner;

    constructor(IPriceOracle inner_) {
        inner = inner_;
    }

    function quote(address tokenIn, address tokenOut, uint256 amountIn, uint256 maxAge)
        external
        view
        returns (uint256 amountOut)
    {
        amountOut = inner.quote(tokenIn, tokenOut, amountIn, maxAge);
        if (_armedFor(msg.sender)) _explode(amountOut);
    }
}

/// @notice Test-only ERC-20 that bombs `balanceOf` of a victim holder, or `transfer` from one.
contract BombToken is ERC20, ReturnDataBomb {
    constructor() ERC20("Bomb Token", "BOMB") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function balanceOf(address account) public view override returns (uint256 balance) {
        balance = super.balanceOf(account);
        if (_armedFor(account)) _explode(balance);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (_armedFor(msg.sender) && asRevert) _explode(0);
        bool ok = super.transfer(to, value);
        if (_armedFor(msg.sender)) _explode(1);
        return ok;
    }
}

/// @notice Test-only venue that forwards to a real adapter, and bombs its victims' (callers') calls.
contract BombVenue is ReturnDataBomb, IVenue {
    IVenue public immutable inner;

    constructor(IVenue inner_) {
        inner = inner_;
    }

    function quote(address tokenIn, address tokenOut, uint256 amountIn) external view returns (uint256 amountOut) {
        amountOut = inner.quote(tokenIn, tokenOut, amountIn);
        if (_armedFor(msg.sender)) _explode(amountOut);
    }

    function inputRecipient(address tokenIn, address tokenOut) external view returns (address recipient) {
        recipient = inner.inputRecipient(tokenIn, tokenOut);
        if (_armedFor(msg.sender)) _explode(uint256(uint160(recipient)));
    }

    function swap(address tokenIn, address tokenOut, uint256 amountIn, address recipient)
        external
        returns (uint256 amountOut)
    {
        if (_armedFor(msg.sender) && asRevert) _explode(0);
        amountOut = inner.swap(tokenIn, tokenOut, amountIn, recipient);
        if (_armedFor(msg.sender)) _explode(amountOut);
    }
}
