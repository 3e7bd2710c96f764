// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IPriceOracle
/// @notice Converts token amounts at Chainlink-style USD feed prices; refuses stale, zero and negative answers.
interface IPriceOracle {
    /// @notice A token's feed was set (or removed, with `feed` zero).
    event FeedSet(address indexed token, address indexed feed, uint8 tokenDecimals, uint8 feedDecimals);

    /// @notice Thrown when a token has no feed.
    error FeedNotSet(address token);
    /// @notice Thrown when a feed's latest answer is older than the caller's limit.
    error StaleOraclePrice(address feed, uint256 updatedAt, uint256 maxAge);
    /// @notice Thrown when a feed answers zero or a negative price.
    error InvalidOraclePrice(address feed, int256 answer);
    /// @notice Thrown when a feed or token address is zero.
    error ZeroAddress();

    /// @notice Set the USD price feed of `token` (feed admin only). Decimals are read and cached now.
    function setFeed(address token, address feed) external;

    /// @notice Remove the feed of `token` (feed admin only): quotes involving it then revert.
    function removeFeed(address token) external;

    /// @notice The value of `amountIn` of `tokenIn` expressed in `tokenOut`, at feed prices no older
    ///         than `maxAge` seconds. Rounds down.
    function quote(address tokenIn, address tokenOut, uint256 amountIn, uint256 maxAge)
        external
        view
        returns (uint256 amountOut);

    /// @notice As `quote`, but each feed's answer is read once per transaction and kept in transient storage,
    ///         so a batch of vaults sharing this oracle pays for one read per feed. The age limit is applied
    ///         to the cached answer's own update time on every call.
    function quoteCached(address tokenIn, address tokenOut, uint256 amountIn, uint256 maxAge)
        external
        returns (uint256 amountOut);

    /// @notice The feed of `token` with the cached token and feed decimals.
    function feedOf(address token) external view returns (address feed, uint8 tokenDecimals, uint8 feedDecimals);
}
