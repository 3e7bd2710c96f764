// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IVenue} from "../interfaces/IVenue.sol";
import {IUniswapV2Pair} from "./IUniswapV2Pair.sol";

/// @title UniswapV2Venue
/// @notice Trades through Uniswap V2 pairs. The caller sends `tokenIn` straight to the pair, so no approval
///         is needed, the adapter never holds tokens, and fee-on-transfer inputs are priced on what arrived.
contract UniswapV2Venue is IVenue {
    address public immutable uniswapFactory;
    /// @dev keccak256 of the pair's creation code, as the factory deploys it (CREATE2 address derivation).
    bytes32 public immutable pairInitCodeHash;

    constructor(address uniswapFactory_, bytes32 pairInitCodeHash_) {
        uniswapFactory = uniswapFactory_;
        pairInitCodeHash = pairInitCodeHash_;
    }

    /// @inheritdoc IVenue
    function quote(address tokenIn, address tokenOut, uint256 amountIn) external view returns (uint256) {
        (uint256 reserveIn, uint256 reserveOut) = _reserves(pairFor(tokenIn, tokenOut), tokenIn < tokenOut);
        return _amountOut(amountIn, reserveIn, reserveOut);
    }

    /// @inheritdoc IVenue
    function inputRecipient(address tokenIn, address tokenOut) external view returns (address) {
        return pairFor(tokenIn, tokenOut);
    }

    /// @inheritdoc IVenue
    function swap(address tokenIn, address tokenOut, uint256, address recipient) external returns (uint256 amountOut) {
        address pair = pairFor(tokenIn, tokenOut);
        bool inIsToken0 = tokenIn < tokenOut;
        (uint256 reserveIn, uint256 reserveOut) = _reserves(pair, inIsToken0);
        // What arrived at the pair beyond its reserves is this trade's input (as Router02's
        // supportingFeeOnTransfer path computes it).
        uint256 received = IERC20(tokenIn).balanceOf(pair) - reserveIn;
        if (received == 0) revert NoInput();
        amountOut = _amountOut(received, reserveIn, reserveOut);
        (uint256 out0, uint256 out1) = inIsToken0 ? (uint256(0), amountOut) : (amountOut, uint256(0));
        IUniswapV2Pair(pair).swap(out0, out1, recipient, "");
    }

    /// @notice The pair of two tokens, derived like UniswapV2Library.pairFor (no external call).
    function pairFor(address tokenA, address tokenB) public view returns (address pair) {
        (address token0, address token1) = tokenA < tokenB ? (tokenA, tokenB) : (tokenB, tokenA);
        pair = address(
            uint160(
                uint256(
                    keccak256(
                        abi.encodePacked(
                            hex"ff", uniswapFactory, keccak256(abi.encodePacked(token0, token1)), pairInitCodeHash
                        )
                    )
                )
            )
        );
        if (pair.code.length == 0) revert PairNotFound(tokenA, tokenB);
    }

    function _reserves(address pair, bool inIsToken0) private view returns (uint256 reserveIn, uint256 reserveOut) {
        (uint112 reserve0, uint112 reserve1,) = IUniswapV2Pair(pair).getReserves();
        (reserveIn, reserveOut) = inIsToken0 ? (reserve0, reserve1) : (reserve1, reserve0);
    }

    /// @dev Uniswap V2's constant-product output after its 0.3 % fee, rounded down as the pair requires.
    function _amountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut) private pure returns (uint256) {
        uint256 amountInWithFee = amountIn * 997;
        return amountInWithFee * reserveOut / (reserveIn * 1000 + amountInWithFee);
    }
}
