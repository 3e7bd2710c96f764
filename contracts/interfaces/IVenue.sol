// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IVenue
/// @notice A trading venue adapter. The caller first sends `tokenIn` to `inputRecipient(...)`, then calls
///         `swap`, which trades what arrived and sends the output to `recipient`. No allowance is ever
///         granted, so an adapter can never pull more than the caller sent. Callers must check their own
///         balances afterwards: a venue's return values are informational only.
interface IVenue {
    /// @notice Thrown when the pair for two tokens does not exist at this venue.
    error PairNotFound(address tokenIn, address tokenOut);
    /// @notice Thrown when nothing arrived at the input recipient before `swap`.
    error NoInput();

    /// @notice Expected output for `amountIn` at current venue state (no oracle, no fees beyond the venue's own).
    function quote(address tokenIn, address tokenOut, uint256 amountIn) external view returns (uint256 amountOut);

    /// @notice The address that must receive `tokenIn` before `swap` is called.
    function inputRecipient(address tokenIn, address tokenOut) external view returns (address);

    /// @notice Trade the `tokenIn` that arrived at `inputRecipient` and send the `tokenOut` to `recipient`.
    /// @param amountIn What the caller sent; the adapter trades what actually arrived (fee-on-transfer safe).
    function swap(address tokenIn, address tokenOut, uint256 amountIn, address recipient)
        external
        returns (uint256 amountOut);
}
